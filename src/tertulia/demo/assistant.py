"""The demo tenant's assistant: Nora, offline and in Spanish, with a small knowledge base about
Café Aurora (the business of the demo tenant), linked to every channel of the demo tenant."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.assistants import repository as repo
from tertulia.assistants.models import Assistant
from tertulia.assistants.schemas import KnowledgeCreate
from tertulia.assistants.service import add_knowledge, default_handoff_message
from tertulia.assistants.tools import DEFAULT_ENABLED_TOOLS
from tertulia.channels import repository as channels_repo
from tertulia.kit.db import utcnow

NORA_INSTRUCTIONS = (
    "Eres Nora, la asistente de Café Aurora, una cafetería de especialidad y panadería en la colonia Roma "
    "Norte de la Ciudad de México. Hablas de tú, con calidez y en pocas palabras. Respondes solo con lo que "
    "sabes de la cafetería; si no lo sabes, o el cliente tiene un problema con un pedido o un pago, pasas la "
    "conversación a una persona del equipo."
)

NORA_HANDOFF = ("Gracias por tu paciencia 🙏 Te paso con una persona del equipo de Café Aurora, que te responde "
                "en unos minutos.")

KNOWLEDGE: list[tuple[str, str]] = [
    ("Horario y ubicación",
     "Estamos en Álvaro Obregón 112, Roma Norte, CDMX. Abrimos de lunes a sábado de 7:30 a 21:00 y los "
     "domingos de 8:00 a 15:00. Los desayunos se sirven hasta las 13:00.\n\n"
     "No tenemos estacionamiento propio; hay un estacionamiento público en Álvaro Obregón 130, a media cuadra. "
     "Los perritos son bienvenidos en la terraza y tenemos agua para ellos."),
    ("Menú de café y precios",
     "Espresso $42, americano $45, capuchino $58, latte $62, café de olla $48 y cold brew de la casa (16 oz) "
     "$70. El cold brew se prepara con 18 horas de extracción en frío.\n\n"
     "Leches vegetales: tenemos leche de avena y de almendra para cualquier bebida por $10 extra, además de "
     "leche entera y deslactosada. El café de olla lleva piloncillo, canela y un toque de clavo."),
    ("Pan dulce y desayunos",
     "Pan dulce del día: concha de vainilla o chocolate $32, rol de canela con glaseado de queso $48 y "
     "croissant de mantequilla $45. El pan sale del horno a las 7:30 y se puede apartar por mensaje.\n\n"
     "Desayunos hasta las 13:00: chilaquiles verdes o rojos con huevo $135 (también con salsa de tomate suave, "
     "sin chile), molletes con pico de gallo $95 y avena con frutos rojos y granola $89. Tenemos un pan de "
     "plátano sin lácteos ni huevo; por ahora no hay pasteles veganos."),
    ("Pasteles por encargo",
     "Hacemos pasteles por encargo con 48 horas de anticipación: tres leches, zanahoria, fresas con crema o "
     "chocolate amargo. Medio kilo $380, un kilo $690 y dos kilos $1,290. Un kilo alcanza para unas 8 a 10 "
     "personas y dos kilos para unas 18 a 20. Se pueden pedir con leyenda y sin nuez. Para apartar pedimos "
     "un anticipo del 50% por transferencia."),
    ("Entregas a domicilio",
     "Hacemos entregas a domicilio en Roma, Condesa, Juárez y Del Valle por $45; llegan en 30 a 40 minutos. "
     "Para otras colonias o fuera de la ciudad, el café en grano se envía por paquetería a todo México y el "
     "costo depende del peso."),
    ("Pagos y facturación",
     "Aceptamos efectivo, tarjeta de débito y crédito, y transferencia. Facturamos cualquier consumo del mismo "
     "mes: envía tu RFC, razón social, código postal, régimen fiscal y uso del CFDI junto con tu ticket."),
    ("Café en grano y mayoreo",
     "Vendemos café en grano en bolsas de 250 g y 500 g con válvula, tostado cada semana, y lo molemos sin "
     "costo para tu método (espresso, prensa francesa, goteo). Orígenes: Chiapas (notas de cacao), Veracruz "
     "Coatepec (notas de panela) y Oaxaca Pluma Hidalgo (frutos rojos).\n\n"
     "Mayoreo para cafeterías y oficinas: pedido mínimo de 5 kg, 10% de descuento desde 20 kg al mes y entrega "
     "en CDMX sin costo desde 10 kg. Precio por kilo desde $380 (mezcla de la casa)."),
    ("Eventos y catering",
     "Tenemos barra de café para eventos, atendida por un barista, con pan dulce y bocadillos. Para cotizar "
     "necesitamos la fecha, el número de personas y el lugar; Ana, la encargada de eventos, envía la "
     "cotización. Se aparta la fecha con un anticipo del 50%."),
    ("Catas de café",
     "Las catas son el último sábado de cada mes a las 10:00. Cuestan $250 e incluyen tres métodos de "
     "preparación y pan dulce. Los lugares se apartan por mensaje."),
]


async def ensure_demo_assistant(session: AsyncSession, tenant_id: uuid.UUID) -> Assistant:
    """Create Nora with her knowledge (once) and point every channel of the tenant to her."""
    existing = next((a for a in await repo.list_assistants(session, tenant_id) if a.name == "Nora"), None)
    if existing is None:
        now = utcnow()
        existing = Assistant(
            id=uuid.uuid4(), tenant_id=tenant_id, name="Nora", instructions=NORA_INSTRUCTIONS, language="es",
            provider="offline", model="", debounce_seconds=3.0, enabled_tools=list(DEFAULT_ENABLED_TOOLS),
            handoff_message=NORA_HANDOFF or default_handoff_message("es"), enabled=True, created_at=now,
            updated_at=now)
        session.add(existing)
        await session.flush()
        for title, content in KNOWLEDGE:
            await add_knowledge(session, existing, KnowledgeCreate(title=title, content=content))
    for channel in await channels_repo.list_channels(session, tenant_id):
        if channel.assistant_id is None:
            channel.assistant_id = existing.id
    await session.flush()
    return existing
