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

# What Café Aurora's customers ask, written as the café would answer it: the demo's replies are the
# offline assistant's real runs over these entries (demo/tenant.py), so they cover its scripts.
KNOWLEDGE: list[tuple[str, str]] = [
    ("Horario y ubicación",
     "Estamos en Álvaro Obregón 112, Roma Norte, CDMX. Horario: abrimos de lunes a sábado de 7:30 a 21:00 y los "
     "domingos de 8:00 a 15:00. Los desayunos se sirven hasta las 13:00, todos los días.\n\n"
     "No tenemos estacionamiento propio; hay un estacionamiento público en Álvaro Obregón 130, a media cuadra, y "
     "parquímetros en la calle. Los perros son bienvenidos en la terraza y tenemos agua para ellos."),
    ("Menú de café y precios",
     "Espresso $42, americano $45, capuchino $58, latte $62, café de olla $48 y cold brew de la casa (16 oz) "
     "$70. El cold brew se prepara con 18 horas de extracción en frío.\n\n"
     "El café más fuerte: el cold brew es el que tiene más cafeína, y el de sabor más intenso es el espresso "
     "doble con la mezcla de la casa. El café de olla lleva piloncillo, canela y un toque de clavo.\n\n"
     "Leches vegetales: tenemos leche de avena y de almendra para cualquier bebida por $10 extra, además de "
     "leche entera y deslactosada."),
    ("Pan dulce y desayunos",
     "Pan dulce del día: concha de vainilla o de chocolate $32, rol de canela con glaseado de queso $48 y "
     "croissant de mantequilla $45. El pan sale del horno a las 7:30 y se puede apartar por mensaje.\n\n"
     "Desayunos hasta las 13:00: chilaquiles verdes o rojos con huevo $135 (también sin picante, con salsa de "
     "tomate suave), molletes con pico de gallo $95 y avena con frutos rojos y granola $89."),
    ("Pan de temporada",
     "El pan de elote volvió: lo horneamos los viernes y sábados desde las 8:00. En octubre y noviembre hay pan "
     "de muerto, chico o grande, y se puede apartar por mensaje."),
    ("Opciones veganas y sin gluten",
     "Por ahora no hay pasteles veganos; tenemos un pan de plátano sin lácteos ni huevo. Sin gluten: la avena "
     "con frutos rojos y un brownie de almendra. Nuestro horno es compartido, así que no podemos garantizar "
     "cero trazas de gluten."),
    ("Pasteles por encargo",
     "Hacemos pasteles por encargo con 48 horas de anticipación: tres leches, zanahoria, fresas con crema o "
     "chocolate amargo. Tamaños: medio kilo $380, un kilo $690 y dos kilos $1,290. Un kilo alcanza para unas 8 a 10 "
     "personas y dos kilos para unas 18 a 20. Se pueden pedir con leyenda y sin nuez. Para apartar un pastel "
     "pedimos un anticipo del 50% por transferencia."),
    ("Entregas a domicilio",
     "Hacemos entregas a domicilio en Roma, Condesa, Juárez y Del Valle por $45; llegan en 30 a 40 minutos. "
     "Fuera de esas colonias (Satélite, Polanco, Coyoacán...) no hacemos envíos propios: puedes pedirnos por "
     "Rappi o Uber Eats. El café en grano se envía por paquetería a todo México (Monterrey, Guadalajara...) y "
     "el costo depende del peso."),
    ("Pagos y facturación",
     "Aceptamos efectivo, transferencia y todas las tarjetas de débito y crédito, también American Express, y "
     "pagos sin contacto. Facturamos cualquier consumo del mismo mes: envía tu RFC, razón social, código "
     "postal, régimen fiscal y uso del CFDI junto con tu ticket, y te llega la factura por correo."),
    ("Tarjetas de regalo",
     "Tenemos tarjetas de regalo de $200, $500 y $1,000, válidas por un año en la cafetería. Por ahora se "
     "compran solo en tienda, no en línea: te apartamos una por mensaje y la pagas al recogerla."),
    ("Café en grano y mayoreo",
     "Vendemos café en grano en bolsas de 250 g y 500 g con válvula, buenas para llevar de viaje, tostado cada "
     "semana, y lo molemos sin costo para tu método (espresso, prensa francesa, goteo). Orígenes: Chiapas "
     "(notas de cacao), Veracruz Coatepec (notas de panela) y Oaxaca Pluma Hidalgo (frutos rojos). Para "
     "prensa francesa recomendamos el Chiapas, con molienda gruesa.\n\n"
     "La bolsa de 250 g cuesta $130 (Chiapas), $140 (Veracruz) o $150 (Oaxaca). El kilo de café cuesta de $380 "
     "(mezcla de la casa) a $520, según el origen.\n\n"
     "Mayoreo para cafeterías y oficinas: mínimo 5 kg, 10% de descuento desde 20 kg al mes y entrega sin costo "
     "en la ciudad desde 10 kg; al resto del país, por paquetería."),
    ("Pedidos de la tienda en línea",
     "Los pedidos de la tienda en línea, en grano o molidos para espresso, prensa o goteo, se tuestan el jueves "
     "y se envían el viernes por paquetería; la guía de envío llega por correo ese mismo día."),
    ("Eventos, catering y juntas",
     "Tenemos barra de café para eventos (bodas, fiestas, oficinas), atendida por un barista, con pan dulce y "
     "bocadillos. Para cotizar necesitamos la fecha, la duración, el número de personas y el lugar; Ana, la "
     "encargada de eventos, envía la cotización. Se aparta la fecha con un anticipo del 50%.\n\n"
     "Coffee break y desayunos para juntas de trabajo en tu oficina: café de la barra, pan dulce y fruta desde "
     "$145 por persona, con entrega en Roma, Condesa, Juárez y Del Valle."),
    ("Catas de café",
     "Las catas son el último sábado de cada mes a las 10:00. Cuestan $250 e incluyen tres métodos de "
     "preparación y pan dulce. Los lugares se apartan por mensaje. No damos cursos de barismo por ahora; lo "
     "más parecido son estas sesiones, con un barista que explica cada método."),
    ("Fotos, wifi y trabajo",
     "Nuestros baristas hacen arte latte de corazón, tulipán y roseta. Para una sesión de fotos la mejor luz de "
     "la terraza es entre 9:00 y 11:00; para sesiones de marcas, con fotógrafo o equipo, Ana lo coordina.\n\n"
     "Tenemos wifi gratis y contactos en la barra larga junto a la ventana; entre semana, de 15:00 a 18:00 "
     "está tranquilo para trabajar."),
    ("Colaboraciones, empleo y aniversario",
     "Las colaboraciones con creadores de contenido las revisa Ana, la dueña: mándanos tu usuario y de qué "
     "tratan tus contenidos. Vacantes: por ahora no tenemos vacantes de barista ni de cocina; manda tu CV a "
     "empleo@cafe-aurora.example y lo tendremos en cuenta.\n\n"
     "Café Aurora cumple 5 años de aniversario 🎉 Para celebrarlo, esta semana el rol de canela va 2x1 de 8:00 "
     "a 10:00."),
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
