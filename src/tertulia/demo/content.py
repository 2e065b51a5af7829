"""What the demo tenant contains: Café Aurora, a specialty coffee shop and bakery in Mexico City,
whose assistant Nora answers on WhatsApp, Instagram, Messenger and the website's chat.

Kept apart from the loader (`tertulia.demo.tenant`) so the script reads like a script. Times are given
relative to the moment the demo is loaded: `ago` is how many minutes before "now" a conversation's
last message was written, and each turn's `gap` is the seconds since the turn before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BUSINESS_NAME = "Café Aurora"
ASSISTANT_NAME = "Nora"
OWNER_NAME = "Ana Lucía Herrera"
AGENT_NAME = "Diego Salas"
AGENT_EMAIL = "diego@cafe-aurora.example"

# kind, name, platform_origin (the concrete account, as the inbox shows it)
CHANNELS: dict[str, tuple[str, str, str]] = {
    "whatsapp": ("whatsapp_cloud", "WhatsApp Café Aurora", "+52 55 4170 2288"),
    "instagram": ("instagram", "Instagram @cafeaurora.mx", "@cafeaurora.mx"),
    "facebook": ("facebook", "Messenger Café Aurora", "facebook.com/cafeauroramx"),
    "web": ("web", "Chat de cafeaurora.mx", "cafeaurora.mx"),
    "api": ("api", "Pedidos de la tienda en línea", "tienda.cafeaurora.mx"),
}

# The website chat's widget (GET /widget/demo/<channel> shows it on a sample page).
WIDGET = {"colour": "#b45309", "greeting": "¡Hola! Soy Nora, de Café Aurora. Pregúntame por pedidos, horarios o "
          "pasteles por encargo.", "assistant_name": "Nora", "ask_name": True,
          "business_hours_message": "El equipo atiende de lunes a sábado, de 8:00 a 20:00; Nora, siempre."}

TAGS: dict[str, str] = {
    "Cliente frecuente": "#16a34a",
    "Pedido pendiente": "#f59e0b",
    "Pastel por encargo": "#db2777",
    "Reclamo": "#dc2626",
    "Catering": "#7c3aed",
    "Mayoreo": "#0891b2",
    "Nuevo": "#2563eb",
}

# Attachment files, shipped in tertulia/demo/media/ (the voice notes are Ogg Opus, as WhatsApp's are).
MEDIA: dict[str, dict[str, str]] = {
    "latte": {"type": "image", "filename": "latte-corazon.png"},
    "latte_oscuro": {"type": "image", "filename": "cafe-de-olla.png"},
    "pastel": {"type": "image", "filename": "pastel-fresas.png"},
    "comprobante": {"type": "image", "filename": "comprobante-transferencia.png"},
    "voz_1": {"type": "audio", "filename": "nota-de-voz-1.ogg"},
    "voz_2": {"type": "audio", "filename": "nota-de-voz-2.ogg"},
    "voz_3": {"type": "audio", "filename": "nota-de-voz-3.ogg"},
    "video": {"type": "video", "filename": "barra-de-cafe.webm"},
    "menu": {"type": "document", "filename": "menu-cafe-aurora.pdf"},
    "cotizacion": {"type": "document", "filename": "cotizacion-coffee-break.pdf"},
    "mayoreo": {"type": "document", "filename": "lista-precios-mayoreo.pdf"},
}


@dataclass(frozen=True)
class Turn:
    who: str  # "c" contact, "ai" the assistant, "owner" / "agent" a human of the team
    text: str = ""
    media: str | None = None
    gap: int = 40  # seconds after the previous turn
    status: str | None = None  # delivery status override for outbound turns
    error: str | None = None
    # Nora's turn written by Nora: the offline assistant run through the real orchestrator when the
    # demo is loaded (its reply, or its handoff, and its trace), instead of the scripted text.
    run: bool = False


def C(text: str = "", media: str | None = None, gap: int = 60) -> Turn:
    return Turn("c", text, media, gap)


def AI(text: str = "", media: str | None = None, gap: int = 9) -> Turn:
    return Turn("ai", text, media, gap)


def NORA(gap: int = 4) -> Turn:
    return Turn("ai", gap=gap, run=True)


def OWNER(text: str = "", media: str | None = None, gap: int = 120, **kw: Any) -> Turn:
    return Turn("owner", text, media, gap, **kw)


def AGENT(text: str = "", media: str | None = None, gap: int = 120, **kw: Any) -> Turn:
    return Turn("agent", text, media, gap, **kw)


@dataclass(frozen=True)
class Script:
    name: str
    channel: str
    ago: int  # minutes between the last message and the moment the demo is loaded
    turns: list[Turn]
    external_id: str
    phone: str | None = None
    tags: tuple[str, ...] = ()
    locked: bool | None = None  # default: under human control when a human wrote
    unread: int | None = None  # default: what the contact wrote since the team last read (demo.LAST_READ)
    online: bool = False
    status: str = "open"
    notes: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    contact_key: str | None = None  # the same key on two scripts = one contact on two channels


H = 60  # minutes in an hour
D = 24 * H

SCRIPTS: list[Script] = [
    # ---------------------------------------------------------------- WhatsApp
    Script("María Fernanda López", "whatsapp", 2, external_id="5215512873340", phone="+525512873340",
           tags=("Pastel por encargo", "Cliente frecuente"), online=True,
           notes="Siempre pide el tres leches sin nuez (alergia de su hijo).",
           attributes={"cumpleaños": "14 de marzo", "colonia": "Condesa"}, turns=[
        C("Hola buenas tardes 👋"),
        C("Quería encargar un pastel de tres leches para el sábado", gap=12),
        AI("¡Hola, María Fernanda! Con gusto te ayudo 🎂 El tres leches lo tenemos en medio kilo ($380), "
           "un kilo ($690) y dos kilos ($1,290). ¿Para cuántas personas sería y a qué hora lo necesitas?"),
        C("Para unas 15 personas, lo recojo el sábado a las 12", gap=95),
        AI("Para 15 personas te recomiendo el de un kilo y medio o dos kilos. ¿Lo quieres con la decoración de "
           "la casa (fresas y crema) o con un mensaje? Recuerda que los pasteles se encargan con 48 h de anticipación, "
           "así que estamos a tiempo."),
        C("De dos kilos, que diga Feliz cumpleaños Santi. Y SIN nuez porfa, mi hijo es alérgico", gap=70),
        C("", media="voz_1", gap=20),
        AI("¡Anotado! Tres leches de dos kilos, sin nuez, con la leyenda «Feliz cumpleaños Santi», para recoger el "
           "sábado a las 12:00. Escuché tu nota de voz; si agregaste algo importante, ¿me lo confirmas por escrito "
           "para que quede en el pedido?"),
        C("Que sea de vainilla el betún, nada más 🙏", gap=40),
    ]),
    Script("Jorge Ramírez", "whatsapp", 7, external_id="5215539914402", phone="+525539914402",
           tags=("Reclamo",), online=True, turns=[
        C("Oigan, me llegó el pedido de Rappi y el pastel viene todo aplastado", gap=60),
        C("", media="pastel", gap=15),
        AI("Lamento mucho esto, Jorge 😔 Gracias por la foto. ¿Me compartes el número de pedido que aparece en la "
           "app para revisarlo con el equipo?"),
        C("RP-88412", gap=50),
        AI("Gracias. Ya lo pasé al equipo de la tienda para que te ayuden de inmediato con la reposición o el "
           "reembolso."),
        OWNER("Hola Jorge, soy Ana, la encargada de Café Aurora. Una disculpa enorme. Te mandamos hoy mismo un "
              "pastel nuevo sin costo; ¿a qué hora estás en casa?", gap=180),
        C("Después de las 6 estoy", gap=120),
        C("Gracias por la atención", gap=8),
    ]),
    Script("Carmen Ortiz", "whatsapp", 25, external_id="5215547201193", phone="+525547201193",
           tags=("Cliente frecuente",), turns=[
        C("Buen día! Ya tienen conchas de chocolate?"),
        AI("¡Buen día, Carmen! ☀️ Sí, salieron del horno a las 7:30. Hoy tenemos conchas de vainilla y chocolate, "
           "roles de canela y croissants. ¿Te aparto algunas?"),
        C("Apártame 6 de chocolate, paso como a las 11", gap=80),
        AI("Listo, seis conchas de chocolate apartadas a tu nombre para las 11:00. ¡Te esperamos!"),
    ]),
    Script("Roberto Sánchez", "whatsapp", 48, external_id="5218117329905", phone="+528117329905",
           tags=("Mayoreo", "Pedido pendiente"), notes="Cafetería en San Pedro Garza García. Factura a nombre de "
           "Café Norteño SA de CV.", attributes={"rfc": "CNO190312AB1", "consumo_mensual_kg": 25}, turns=[
        C("Buenas tardes, tengo una cafetería en Monterrey y me interesa comprarles café en grano por kilo"),
        AI("¡Qué gusto, Roberto! Te comparto nuestra lista de precios de mayoreo. El pedido mínimo es de 5 kg y "
           "desde 20 kg al mes tienes 10% de descuento.", media="mayoreo"),
        C("Perfecto. Hacen envíos a Monterrey?", gap=300),
        AI("Sí, enviamos a todo México por paquetería; el costo depende del peso. Para confirmarte el envío y la "
           "factura te paso con Diego, que lleva las cuentas de mayoreo."),
        AGENT("Hola Roberto, soy Diego. Para 20 kg a Monterrey el envío sale en $380 y llega en 2 días hábiles. "
              "¿Te preparo el pedido con la mezcla de la casa?", gap=900),
        C("Sí, 20 kg de la mezcla para espresso. Te mando el comprobante", gap=1500),
        C("", media="comprobante", gap=30),
    ]),
    Script("Lucía Morales", "whatsapp", 95, external_id="5215520448817", phone="+525520448817", turns=[
        C("Hola, hasta qué hora abren hoy?"),
        AI("¡Hola, Lucía! Hoy abrimos hasta las 21:00. Los domingos cerramos a las 15:00."),
        C("Gracias!! Y tienen leche de avena?", gap=30),
        AI("Sí 🌾 Tenemos leche de avena y de almendra para cualquier bebida (+$10)."),
    ]),
    Script("Alejandro Pérez", "whatsapp", 3 * H, external_id="5213312056647", phone="+523312056647",
           tags=("Nuevo",), turns=[
        C("Hola, vi su video en TikTok. Dan cursos de barismo?"),
        AI("¡Hola, Alejandro! Por ahora no tenemos cursos abiertos, pero hacemos catas de café el último sábado "
           "de cada mes a las 10:00 ($250, incluye tres métodos de extracción y pan). ¿Te interesa que te aparte "
           "un lugar?"),
        C("Va, apártame uno", gap=200),
        AI("¡Listo! Quedaste en la lista de la cata del último sábado del mes. Te mandaremos un recordatorio un día "
           "antes. Mientras, así se ve la barra 😉", media="video"),
        C("Qué padre se ve 😍", gap=240),
    ]),
    Script("Gabriela Torres", "whatsapp", 5 * H, external_id="5215561207733", phone="+525561207733",
           tags=("Pedido pendiente",), turns=[
        C("Buenas, quiero pedir a domicilio 2 lattes de avena y 2 roles de canela"),
        AI("¡Claro, Gabriela! Serían 2 lattes de avena ($144) y 2 roles de canela ($96), más $45 de envío: "
           "$285 en total. ¿A qué dirección te lo enviamos?"),
        C("Colima 254, depto 3, Roma Norte", gap=90),
        AI("Perfecto. Lo enviamos a Colima 254, depto. 3, Roma Norte. Llega en 30 a 40 minutos. ¿Pagas con "
           "tarjeta al repartidor o por transferencia?"),
        C("", media="voz_2", gap=60),
        C("Perdón, mejor efectivo, pago con billete de 500", gap=25),
    ]),
    Script("Fernando Castillo", "whatsapp", 9 * H, external_id="5215598823310", phone="+525598823310", turns=[
        C("Tienen factura?"),
        AI("Sí, Fernando. Facturamos cualquier consumo del mismo mes. Mándame tu RFC, razón social, código postal, "
           "régimen fiscal y el uso de CFDI, junto con el ticket, y te la enviamos por correo."),
        C("Ok te los mando al rato", gap=400),
    ]),
    Script("Patricia Gómez", "whatsapp", 1 * D + 2 * H, external_id="5215518830021", phone="+525518830021",
           tags=("Cliente frecuente",), locked=False, turns=[
        C("Ana!! Me guardas un pan de muerto grande para mañana?"),
        OWNER("¡Claro, Paty! Te lo dejo apartado, pasa cuando quieras 🧡", gap=600),
        C("Gracias, eres un sol", gap=300),
        AI("¡Con gusto, Patricia! Tu pan de muerto grande queda apartado para mañana. Abrimos a las 7:30.", gap=5),
    ]),
    Script("Miguel Ángel Reyes", "whatsapp", 1 * D + 6 * H, external_id="5215533017725", phone="+525533017725",
           tags=("Catering",), turns=[
        C("Hola, hacen café para eventos? Es una boda civil de 60 personas"),
        AI("¡Felicidades! 🎉 Sí, tenemos barra de café para eventos con barista. Para darte una cotización, "
           "¿me compartes fecha, horario y la dirección del evento?"),
        C("El 20 del próximo mes, de 5 a 9 pm, en un jardín en Coyoacán", gap=1800),
        AI("Gracias, Miguel Ángel. Le paso tus datos a Ana, nuestra encargada de eventos, para que te mande la "
           "cotización formal hoy mismo."),
    ]),
    Script("Sofía Hernández", "whatsapp", 2 * D, external_id="5215577102248", phone="+525577102248",
           status="resolved", turns=[
        C("Se me olvidó mi termo ayer en la mesa de la ventana 😅 es azul"),
        AI("¡Hola, Sofía! Déjame preguntar al equipo de la tienda si lo encontraron."),
        AGENT("Sí lo tenemos, Sofía. Está en la barra a tu nombre 👍", gap=1200),
        C("Mil gracias!!", gap=600),
    ]),
    Script("Ricardo Vargas", "whatsapp", 3 * D, external_id="5215540095512", phone="+525540095512",
           contact_key="ricardo", tags=("Cliente frecuente",), turns=[
        C("Buenas, me recomiendas un café para prensa francesa?"),
        AI("¡Claro, Ricardo! Para prensa francesa te va muy bien el de Chiapas (notas de cacao, cuerpo alto). Te lo "
           "molemos grueso sin costo. El de 250 g cuesta $130."),
        C("Va, apártame uno molido para prensa", gap=240),
        AI("Listo, un Chiapas de 250 g, molienda gruesa, a tu nombre. ¡Que lo disfrutes!"),
    ]),
    Script("Daniela Cruz", "whatsapp", 5 * D, external_id="5215569934401", phone="+525569934401",
           status="resolved", turns=[
        C("Hola, aceptan perros en la terraza?"),
        AI("¡Sí! 🐶 Los perritos son bienvenidos en la terraza y tenemos agua para ellos."),
        C("Genial, gracias", gap=90),
    ]),
    Script("Eduardo Jiménez", "whatsapp", 8 * D, external_id="5215522238890", phone="+525522238890",
           tags=("Reclamo",), locked=True, turns=[
        C("Ayer me cobraron dos veces el mismo café con tarjeta"),
        AI("Lamento la molestia, Eduardo. ¿Me compartes la hora aproximada de la compra y los últimos 4 dígitos de "
           "la tarjeta? Con eso el equipo revisa el cierre de caja."),
        C("Como a las 9:15, termina en 4471", gap=500),
        OWNER("Eduardo, ya lo revisé: el segundo cargo quedó como preautorización y se libera en 48 h. Si no se "
              "libera, te hacemos la devolución. Una disculpa.", gap=3 * 3600),
        OWNER("¿Pudiste ver la liberación del cargo?", gap=2 * 86400, status="failed",
              error="(#131047) Más de 24 horas desde el último mensaje del cliente: usa una plantilla aprobada."),
    ]),
    Script("Valeria Mendoza", "whatsapp", 12 * D, external_id="34612448803", phone="+34612448803",
           tags=("Nuevo",), notes="Turista de Madrid, vuelve en diciembre.", status="resolved", turns=[
        C("Hola! Estoy de visita en CDMX, ¿el café de Oaxaca lo venden en bolsa para llevar a España?"),
        AI("¡Hola, Valeria! Sí, lo tenemos en bolsas de 250 g y 500 g con válvula, perfectas para viajar. El "
           "Oaxaca Pluma Hidalgo de 250 g cuesta $150."),
        C("Perfecto, paso mañana por dos bolsas", gap=600),
        AI("¡Te esperamos! Estamos en Álvaro Obregón 112, Roma Norte."),
    ]),
    Script("Héctor Navarro", "whatsapp", 18 * D, external_id="5215587711206", phone="+525587711206",
           status="resolved", turns=[
        C("", media="voz_3"),
        AI("¡Hola, Héctor! Recibí tu nota de voz. Para no equivocarme, ¿me escribes qué necesitas?"),
        C("Que si tienen chilaquiles sin picante para mi mamá", gap=200),
        AI("Sí, los chilaquiles pueden ser con salsa de tomate suave, sin chile. Se sirven hasta las 13:00."),
    ]),
    # ---------------------------------------------------------------- Instagram
    Script("Ricardo Vargas", "instagram", 4 * D + 3 * H, external_id="17841455120033981", contact_key="ricardo",
           turns=[
        C("Vi la historia del cold brew, cuánto cuesta?"),
        AI("¡Hola! El cold brew de la casa (16 oz) cuesta $70 y lo preparamos con 18 horas de extracción en frío 🧊"),
    ]),
    Script("Andrea Ruiz", "instagram", 14, external_id="17841402287741193", tags=("Pastel por encargo",),
           online=True, turns=[
        C("Holaaa me pueden hacer un latte así para una sesión de fotos?", media="latte"),
        AI("¡Hola, Andrea! 😍 Sí, nuestros baristas hacen arte latte de corazón, tulipán y roseta. Si es para una "
           "sesión de fotos, te recomendamos venir entre 9 y 11, cuando la luz de la terraza es más bonita."),
        C("Y puedo llevar a mi fotógrafa? Somos 3", gap=120),
        C("Es para mi marca de ropa", gap=20),
    ]),
    Script("Paola Jiménez", "instagram", 55, external_id="17841433100987720", tags=("Nuevo",), turns=[
        C("Hacen colaboraciones con creadores de contenido?"),
        AI("¡Hola, Paola! Gracias por escribirnos. Las colaboraciones las revisa directamente Ana, la dueña. "
           "¿Me compartes tu usuario y de qué tratan tus contenidos?"),
        C("@paoeats, reseñas de cafeterías en CDMX, 48k seguidores", gap=240),
        OWNER("¡Hola Paola! Me encanta tu contenido. ¿Te late venir el jueves a las 10? Te invitamos a probar el "
              "menú de temporada ☕", gap=2400),
        C("Siii! Ahí nos vemos", gap=900),
    ]),
    Script("Emilio Guerrero", "instagram", 6 * H, external_id="17841409981235567", turns=[
        C("Cuál es el café más fuerte que tienen?"),
        AI("El que más cafeína tiene es el cold brew, y el de sabor más intenso es el espresso doble con nuestra "
           "mezcla de la casa 💪"),
        C("Y el café de olla lleva piloncillo?", media="latte_oscuro", gap=300),
        AI("¡Sí! Lleva piloncillo, canela y un toque de clavo, como en casa de la abuela."),
    ]),
    Script("Mariana Flores", "instagram", 20 * H, external_id="17841471160034428", tags=("Cliente frecuente",),
           turns=[
        C("Ya volvió el pan de elote?? 🌽"),
        AI("¡Sí volvió! Lo horneamos los viernes y sábados desde las 8:00."),
        C("Aaaah los amo", gap=60),
    ]),
    Script("Iván Domínguez", "instagram", 2 * D + 5 * H, external_id="17841438801127790", turns=[
        C("Tienen vacantes de barista?"),
        AI("¡Hola, Iván! Gracias por tu interés. Por ahora no tenemos vacantes abiertas, pero puedes mandar tu CV a "
           "empleo@cafe-aurora.example y lo tendremos en cuenta."),
    ]),
    Script("Natalia Silva", "instagram", 6 * D, external_id="17841499120066652", status="resolved", turns=[
        C("Qué días hacen las catas?"),
        AI("Las catas son el último sábado de cada mes a las 10:00. Cuestan $250 e incluyen tres métodos de "
           "extracción y pan dulce."),
        C("Me anoto con una amiga!", gap=1200),
        AI("¡Listo, Natalia! Quedan apartados dos lugares a tu nombre ☕"),
    ]),
    Script("Tomás Aguilar", "instagram", 10 * D, external_id="17841420093381174", turns=[
        C("Hay estacionamiento?"),
        AI("No tenemos estacionamiento propio, pero hay uno público en Álvaro Obregón 130, a media cuadra, y "
           "parquímetros en la calle."),
    ]),
    Script("Regina Castro", "instagram", 15 * D, external_id="17841466770029915", tags=("Pastel por encargo",),
           status="resolved", turns=[
        C("Hacen pasteles veganos?"),
        AI("Por ahora no tenemos pasteles veganos, Regina, pero sí un pan de plátano sin lácteos ni huevo."),
        C("Ok gracias", gap=300),
    ]),
    # ---------------------------------------------------------------- Messenger
    Script("Laura Méndez", "facebook", 35, external_id="6712230945581204", phone="+525532217786",
           tags=("Catering", "Pedido pendiente"), notes="Despacho Méndez & Asociados, Insurgentes Sur 1457.",
           attributes={"empresa": "Méndez & Asociados", "personas": 40}, turns=[
        C("Buenas tardes, necesito un coffee break para 40 personas el viernes en nuestra oficina"),
        AI("¡Con gusto, Laura! ¿En qué horario y dirección sería? Incluimos barra de café con barista, pan dulce y "
           "agua fresca."),
        C("De 9 a 11 am, en Insurgentes Sur 1457", gap=600),
        AI("Gracias. Le paso tu solicitud a Ana para que te envíe la cotización."),
        OWNER("Hola Laura, te comparto la cotización del coffee break. Incluye barista, 80 piezas de pan y agua "
              "de jamaica.", media="cotizacion", gap=3600),
        C("Perfecto, cómo hago el anticipo?", gap=1800),
        OWNER("Es del 50% por transferencia a la cuenta que viene en la cotización. En cuanto lo recibamos te "
              "confirmamos la fecha.", gap=600),
        C("Listo, lo hago mañana temprano", gap=900),
    ]),
    Script("Óscar Rivera", "facebook", 4 * H, external_id="6623107784412093", turns=[
        C("Buenas, venden tarjetas de regalo?"),
        AI("¡Hola, Óscar! Sí 🎁 Tenemos tarjetas de regalo de $200, $500 y $1,000, válidas por un año en tienda."),
        C("Se pueden comprar en línea?", gap=150),
        AI("Por ahora solo en tienda, pero si quieres te apartamos una y la pagas al recogerla."),
    ]),
    Script("Beatriz Soto", "facebook", 1 * D + 1 * H, external_id="6590021183347752", tags=("Cliente frecuente",),
           turns=[
        C("Feliz aniversario Café Aurora!! 🎉 ya 5 años"),
        AI("¡Muchas gracias, Beatriz! 🧡 Para celebrarlo, esta semana el rol de canela va 2x1 de 8 a 10 am."),
        C("Ahí estaré jaja", gap=60),
    ]),
    Script("Arturo Medina", "facebook", 3 * D + 4 * H, external_id="6634419920087731", turns=[
        C("Tienen wifi para trabajar?"),
        AI("¡Sí! Tenemos wifi gratis y contactos en la barra larga junto a la ventana. Entre semana de 15:00 a "
           "18:00 suele estar tranquilo para trabajar."),
        C("Excelente", gap=120),
    ]),
    Script("Claudia Herrera", "facebook", 7 * D, external_id="6678830012294415", tags=("Reclamo",), turns=[
        C("El domingo esperé 25 minutos mi desayuno y nadie me avisó"),
        AI("Lamento mucho la espera, Claudia. No debió pasar. Comparto tu comentario con el equipo de la tienda."),
        AGENT("Claudia, soy Diego, el gerente de turno. Tienes toda la razón; el domingo nos faltó una persona en "
              "cocina. Tu próximo desayuno corre por nuestra cuenta.", gap=5400),
        C("Gracias por responder, lo aprecio", gap=7200),
    ]),
    Script("Raúl Peña", "facebook", 11 * D, external_id="6601122784450938", status="resolved", turns=[
        C("Hacen envíos a Satélite?"),
        AI("Por ahora entregamos en Roma, Condesa, Juárez y Del Valle. Para Satélite puedes pedir por Rappi o "
           "Uber Eats."),
    ]),
    Script("Verónica Luna", "facebook", 20 * D, external_id="6690034471126650", status="resolved", turns=[
        C("A qué hora abren los domingos?"),
        AI("Los domingos abrimos de 8:00 a 15:00. ¡Te esperamos!"),
        C("👍", gap=40),
    ]),
    # ---------------------------------------------------------------- Web chat
    Script("Visitante 4821", "web", 1, external_id="v_8f3a2c91d4", online=True, turns=[
        C("hola"),
        AI("¡Hola! Soy Nora, la asistente de Café Aurora ☕ ¿En qué te ayudo?"),
        C("tienen desayunos hasta que hora?", gap=25),
        AI("Los desayunos se sirven hasta las 13:00, todos los días. ¿Quieres ver el menú?"),
        C("si porfa", gap=15),
        AI("Aquí lo tienes 📄", media="menu"),
    ]),
    Script("Santiago Ramos", "web", 70, external_id="v_11c0e7ab52", tags=("Catering",), turns=[
        C("Buen día, hacen desayunos para juntas de trabajo? somos 12"),
        AI("¡Sí, Santiago! Tenemos paquetes de desayuno para juntas: café de la barra, pan dulce y fruta desde "
           "$145 por persona, con entrega en Roma, Condesa, Juárez y Del Valle."),
        C("Perfecto, me pueden llamar? 55 1288 4410", gap=300),
        AI("Claro. Le pido a alguien del equipo que te llame hoy en horario de oficina."),
    ]),
    Script("Elena Vázquez", "web", 8 * H, external_id="v_5d72be0a13", turns=[
        C("¿Tienen opciones sin gluten?"),
        AI("Tenemos avena con frutos rojos y un brownie de almendra sin gluten. Ojo: nuestro horno es compartido, "
           "así que no podemos garantizar cero trazas."),
        C("Gracias por la honestidad", gap=90),
    ]),
    Script("Visitante 0937", "web", 2 * D + 8 * H, external_id="v_a0913f4c77", turns=[
        C("cuanto cuesta el kilo de cafe?"),
        AI("El café en grano va de $380 a $520 el kilo según el origen. También lo vendemos en bolsas de 250 g "
           "desde $110."),
    ]),
    Script("Julia Paredes", "web", 9 * D, external_id="v_3e88d21b09", phone="+525541188830",
           tags=("Pastel por encargo",), turns=[
        C("Quiero un pastel de zanahoria para el martes, ¿cómo lo pido?"),
        AI("Puedes encargarlo aquí mismo, Julia. ¿De qué tamaño lo quieres: medio kilo, un kilo o dos kilos?"),
        C("Un kilo", gap=120),
        AI("¡Listo! Pastel de zanahoria de un kilo para el martes ($690). ¿A qué hora pasas por él?"),
        C("A las 5 pm", gap=90),
        AI("Anotado: martes a las 17:00. Te mandamos un recordatorio el lunes."),
    ]),
    Script("Visitante 2264", "web", 16 * D, external_id="v_77b0c1d2e6", turns=[
        C("aceptan american express?"),
        AI("Sí, aceptamos todas las tarjetas, incluida American Express, y pagos sin contacto."),
    ]),
    # ---------------------------------------------------------------- Online shop (generic API channel)
    Script("Adriana Campos", "api", 40, external_id="tienda-cliente-1042", phone="+525523357719",
           tags=("Pedido pendiente",), turns=[
        C("Pedido #1042: 1 kg Veracruz Coatepec, molido para espresso. ¿Cuándo lo envían?"),
        AI("¡Gracias por tu compra, Adriana! Tu pedido #1042 se tuesta el jueves y sale a paquetería el viernes; "
           "te llegará la guía por correo."),
    ]),
    Script("Luis Ortega", "api", 6 * D, external_id="tienda-cliente-0987", status="resolved", turns=[
        C("Pedido #0987: no me llegó la guía de envío"),
        AI("Lo siento, Luis. Ya pedí al equipo que te reenvíe la guía de tu pedido #0987."),
        AGENT("Luis, la guía es 7720 1934 5521 (Estafeta). Te la reenviamos también por correo.", gap=2700),
        C("Recibido, gracias", gap=1800),
    ]),
    # Answered live by Nora (offline) when the demo is loaded: her sources and steps are real, and the
    # second ends with her handing the conversation to the team, with its brief.
    Script("Sofía Navarro", "whatsapp", 4 * H + 10, external_id="5215530091176", phone="+525530091176", turns=[
        C("Hola! A qué hora abren los domingos?"),
        NORA(),
        C("Y qué días hacen las catas de café?", gap=150),
        NORA(),
    ]),
    Script("Héctor Ruiz", "whatsapp", 33, external_id="5215562274410", phone="+525562274410", turns=[
        C("Buenas tardes"),
        NORA(),
        C("Mi pedido #2231 no ha llegado y tampoco me mandaron la guía de envío", gap=45),
        NORA(),
        C("Lo pagué hace 6 días por transferencia", gap=30),
    ]),
]
