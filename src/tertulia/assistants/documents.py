"""The text of an uploaded knowledge document: `.txt`/`.md` as UTF-8, `.pdf` through pypdf,
`.docx` through python-docx (headings become Markdown headings, tables rows of cells).

The bytes decide, not the name alone: a `.pdf` must start as a PDF does and a `.docx` must be a
zip holding `word/document.xml`, so a renamed file is refused with a clear 415 instead of being
parsed as what it is not."""

from __future__ import annotations

import io
import zipfile

from tertulia.kit.errors import Invalid, TertuliaError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx")
# What a .docx may unpack to: its XML is read whole, so a zip bomb is refused before that.
MAX_DOCX_UNPACKED = 50 * 1024 * 1024


def unsupported(message: str) -> TertuliaError:
    return TertuliaError(message, code="unsupported_media_type", status_code=415)


def document_text(filename: str, raw: bytes) -> str:
    """The document's text with Unix line ends, stripped; `Invalid` when there is none."""
    name = filename.lower()
    if name.endswith(TEXT_SUFFIXES):
        text = _plain_text(raw)
    elif name.endswith(".pdf"):
        text = _pdf_text(raw)
    elif name.endswith(".docx"):
        text = _docx_text(raw)
    else:
        raise unsupported("only .txt, .md, .pdf and .docx documents can be uploaded as knowledge")
    text = text.replace("\r\n", "\n").replace("\x00", "").strip()
    if not text:
        raise Invalid("the file has no text to learn from (a scanned PDF needs its text first)", code="empty_file")
    return text


def _plain_text(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the file is not UTF-8 text", code="invalid_encoding") from exc
    if "\x00" in text:
        raise Invalid("the file contains NUL bytes: it is not a text document", code="invalid_encoding")
    return text


def _pdf_text(raw: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not raw.lstrip()[:5] == b"%PDF-":
        raise unsupported("the file is named .pdf but is not a PDF document")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise Invalid("the PDF is password-protected; upload an unprotected copy", code="unreadable_document")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise Invalid("the PDF cannot be read (it may be damaged)", code="unreadable_document") from exc
    return "\n\n".join(p for p in pages if p)


def _docx_text(raw: bytes) -> str:
    from docx import Document

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise unsupported("the file is named .docx but is not a Word document") from exc
    if "word/document.xml" not in names:
        raise unsupported("the file is named .docx but is not a Word document")
    if unpacked > MAX_DOCX_UNPACKED:
        raise Invalid("the Word document unpacks to more than 50 MB", code="unreadable_document")
    try:
        document = Document(io.BytesIO(raw))
    except Exception as exc:  # python-docx raises assorted errors on damaged files
        raise Invalid("the Word document cannot be read (it may be damaged)", code="unreadable_document") from exc
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = style.removeprefix("Heading ").strip()
        lines.append(f"{'#' * int(level)} {text}" if style.startswith("Heading ") and level.isdigit() else text)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    return "\n\n".join(lines)
