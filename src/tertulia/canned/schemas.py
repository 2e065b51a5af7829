from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from tertulia.conversations.schemas import MessageText
from tertulia.kit.types import NonBlank

SHORTCUT = re.compile(r"[a-z0-9_-]{1,32}")


def check_shortcut(value: str) -> str:
    if not SHORTCUT.fullmatch(value):
        raise PydanticCustomError("shortcut_format",
                                  "a shortcut is 1 to 32 lowercase letters, digits, '-' or '_'")
    return value


Shortcut = Annotated[str, AfterValidator(check_shortcut)]
Title = Annotated[NonBlank, StringConstraints(max_length=100)]


class CannedResponseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    shortcut: str
    title: str
    content: str
    created_at: datetime
    updated_at: datetime


class CannedResponseCreate(BaseModel):
    shortcut: Shortcut = Field(examples=["envio"], description="typed after `/` in the composer: ^[a-z0-9_-]{1,32}$")
    title: Title = Field(examples=["Envíos a domicilio"])
    content: MessageText = Field(examples=["Enviamos a todo el país en 24-48 h; el envío es gratis desde 30 €."])


class CannedResponseUpdate(BaseModel):
    shortcut: Shortcut | None = None
    title: Title | None = None
    content: MessageText | None = None
