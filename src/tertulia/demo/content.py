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


def C(text: str = "", media: str | None = None, gap: int = 60) -> Turn:
    return Turn("c", text, media, gap)


def NORA(gap: int = 4) -> Turn:
    """Nora's turn: not scripted, but written by Nora herself when the demo is loaded (the offline
    assistant run through the real orchestrator on the conversation so far), with its trace: her
    answer, or her handoff to the team."""
    return Turn("ai", gap=gap)


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
        NORA(),
        C("¿Para 15 personas de qué tamaño me recomiendas?", gap=95),
        NORA(),
        C("De dos kilos, que diga Feliz cumpleaños Santi. Y SIN nuez porfa, mi hijo es alérgico", gap=70),
        C("", media="voz_1", gap=20),
        NORA(),
        OWNER("¡Hola, María Fernanda! Soy Ana 🎂 Anotado: tres leches de dos kilos, sin nuez, con la leyenda «Feliz "
              "cumpleaños Santi», para recoger el sábado a las 12:00. Escuché tu nota de voz; ¿algo más para el "
              "pedido?", gap=150),
        C("Que sea de vainilla el betún, nada más 🙏", gap=40),
    ]),
    Script("Jorge Ramírez", "whatsapp", 7, external_id="5215539914402", phone="+525539914402",
           tags=("Reclamo",), online=True, turns=[
        C("Oigan, me llegó el pedido de Rappi y el pastel viene todo aplastado", gap=60),
        C("", media="pastel", gap=15),
        NORA(),
        C("Es el pedido RP-88412", gap=50),
        OWNER("Hola Jorge, soy Ana, la encargada de Café Aurora. Una disculpa enorme. Te mandamos hoy mismo un "
              "pastel nuevo sin costo; ¿a qué hora estás en casa?", gap=180),
        C("Después de las 6 estoy", gap=120),
        C("Gracias por la atención", gap=8),
    ]),
    Script("Carmen Ortiz", "whatsapp", 25, external_id="5215547201193", phone="+525547201193",
           tags=("Cliente frecuente",), turns=[
        C("Buen día! Ya tienen conchas de chocolate?"),
        NORA(),
        C("Apártame 6 de chocolate, paso como a las 11", gap=80),
        NORA(),
        AGENT("Listo, Carmen: seis conchas de chocolate apartadas a tu nombre para las 11:00. ¡Te esperamos!",
              gap=240),
    ]),
    Script("Roberto Sánchez", "whatsapp", 48, external_id="5218117329905", phone="+528117329905",
           tags=("Mayoreo", "Pedido pendiente"), notes="Cafetería en San Pedro Garza García. Factura a nombre de "
           "Café Norteño SA de CV.", attributes={"rfc": "CNO190312AB1", "consumo_mensual_kg": 25}, turns=[
        C("Buenas tardes, tengo una cafetería en Monterrey y me interesa comprarles café en grano por kilo"),
        NORA(),
        C("Perfecto. Hacen envíos a Monterrey?", gap=300),
        NORA(),
        C("Serían unos 20 kg al mes con factura, ¿me pasas con alguien de mayoreo?", gap=120),
        NORA(),
        AGENT("Hola Roberto, soy Diego, llevo las cuentas de mayoreo. Te comparto la lista de precios: para 20 kg a "
              "Monterrey el envío sale en $380 y llega en 2 días hábiles. ¿Te preparo el pedido con la mezcla de la "
              "casa?", media="mayoreo", gap=900),
        C("Sí, 20 kg de la mezcla para espresso. Te mando el comprobante", gap=1500),
        C("", media="comprobante", gap=30),
    ]),
    Script("Lucía Morales", "whatsapp", 95, external_id="5215520448817", phone="+525520448817", turns=[
        C("Hola, hasta qué hora abren hoy?"),
        NORA(),
        C("Gracias!! Y tienen leche de avena?", gap=30),
        NORA(),
    ]),
    Script("Alejandro Pérez", "whatsapp", 3 * H, external_id="5213312056647", phone="+523312056647",
           tags=("Nuevo",), turns=[
        C("Hola, vi su video en TikTok. Dan cursos de barismo?"),
        NORA(),
        C("Va. ¿Y cómo aparto un lugar en la cata?", gap=200),
        NORA(),
        OWNER("¡Hola, Alejandro! Soy Ana: ya quedaste en la lista de la cata del último sábado del mes. Te mandamos "
              "un recordatorio un día antes. Mientras, así se ve la barra 😉", media="video", gap=600),
        C("Qué padre se ve 😍", gap=240),
    ]),
    Script("Gabriela Torres", "whatsapp", 5 * H, external_id="5215561207733", phone="+525561207733",
           tags=("Pedido pendiente",), turns=[
        C("Buenas, ¿hacen entregas a domicilio en la Roma? Quiero 2 lattes de avena y 2 roles de canela"),
        NORA(),
        AGENT("¡Hola, Gabriela! Soy Diego. Serían 2 lattes de avena ($144) y 2 roles de canela ($96), más $45 de "
              "envío: $285 en total. ¿A qué dirección te lo enviamos?", gap=60),
        C("Colima 254, depto 3, Roma Norte", gap=90),
        AGENT("Perfecto. Llega en 30 a 40 minutos. ¿Pagas con tarjeta al repartidor o por transferencia?", gap=40),
        C("", media="voz_2", gap=60),
        C("Perdón, mejor efectivo, pago con billete de 500", gap=25),
    ]),
    Script("Fernando Castillo", "whatsapp", 9 * H, external_id="5215598823310", phone="+525598823310", turns=[
        C("Tienen factura?"),
        NORA(),
        C("Ok te los mando al rato", gap=400),
        NORA(),
    ]),
    Script("Patricia Gómez", "whatsapp", 1 * D + 2 * H, external_id="5215518830021", phone="+525518830021",
           tags=("Cliente frecuente",), locked=False, turns=[
        C("Ana!! Me guardas un pan de muerto grande para mañana?"),
        OWNER("¡Claro, Paty! Te lo dejo apartado, pasa cuando quieras 🧡", gap=100),
        C("Gracias, eres un sol", gap=300),
        NORA(),
    ]),
    Script("Miguel Ángel Reyes", "whatsapp", 1 * D + 6 * H, external_id="5215533017725", phone="+525533017725",
           tags=("Catering",), turns=[
        C("Hola, hacen café para eventos? Es una boda civil de 60 personas"),
        NORA(),
        C("El 20 del próximo mes, de 5 a 9 pm, en un jardín en Coyoacán", gap=1800),
        NORA(),
    ]),
    Script("Sofía Hernández", "whatsapp", 2 * D, external_id="5215577102248", phone="+525577102248",
           status="resolved", turns=[
        C("Se me olvidó mi termo ayer en la mesa de la ventana 😅 es azul"),
        NORA(),
        AGENT("Sí lo tenemos, Sofía. Está en la barra a tu nombre 👍", gap=1200),
        C("Mil gracias!!", gap=600),
    ]),
    Script("Ricardo Vargas", "whatsapp", 3 * D, external_id="5215540095512", phone="+525540095512",
           contact_key="ricardo", tags=("Cliente frecuente",), turns=[
        C("Buenas, me recomiendas un café para prensa francesa?"),
        NORA(),
        C("¿Y cuánto cuesta la bolsa de 250 g?", gap=240),
        NORA(),
    ]),
    Script("Daniela Cruz", "whatsapp", 5 * D, external_id="5215569934401", phone="+525569934401",
           status="resolved", turns=[
        C("Hola, aceptan perros en la terraza?"),
        NORA(),
        C("Genial, gracias", gap=90),
        NORA(),
    ]),
    Script("Eduardo Jiménez", "whatsapp", 8 * D, external_id="5215522238890", phone="+525522238890",
           tags=("Reclamo",), locked=True, turns=[
        C("Ayer me cobraron dos veces el mismo café con tarjeta"),
        NORA(),
        C("Fue como a las 9:15, con la tarjeta que termina en 4471", gap=500),
        OWNER("Eduardo, ya lo revisé: el segundo cargo quedó como preautorización y se libera en 48 h. Si no se "
              "libera, te hacemos la devolución. Una disculpa.", gap=3 * 3600),
        OWNER("¿Pudiste ver la liberación del cargo?", gap=2 * 86400, status="failed",
              error="(#131047) Más de 24 horas desde el último mensaje del cliente: usa una plantilla aprobada."),
    ]),
    Script("Valeria Mendoza", "whatsapp", 12 * D, external_id="34612448803", phone="+34612448803",
           tags=("Nuevo",), notes="Turista de Madrid, vuelve en diciembre.", status="resolved", turns=[
        C("Hola! Estoy de visita en CDMX, ¿el café de Oaxaca lo venden en bolsa para llevar a España?"),
        NORA(),
        C("Perfecto, paso mañana por dos bolsas", gap=600),
        NORA(),
    ]),
    Script("Héctor Navarro", "whatsapp", 18 * D, external_id="5215587711206", phone="+525587711206",
           status="resolved", turns=[
        C("", media="voz_3"),
        C("Perdón, te escribo: ¿tienen chilaquiles sin picante para mi mamá?", gap=30),
        NORA(),
        C("Gracias!", gap=200),
        NORA(),
    ]),
    # ---------------------------------------------------------------- Instagram
    Script("Ricardo Vargas", "instagram", 4 * D + 3 * H, external_id="17841455120033981", contact_key="ricardo",
           turns=[
        C("Vi la historia del cold brew, cuánto cuesta?"),
        NORA(),
    ]),
    Script("Andrea Ruiz", "instagram", 14, external_id="17841402287741193", tags=("Pastel por encargo",),
           online=True, turns=[
        C("Holaaa me pueden hacer un latte así para una sesión de fotos?", media="latte"),
        NORA(),
        C("Y puedo llevar a mi fotógrafa? Somos 3", gap=120),
        C("Es para mi marca de ropa", gap=20),
    ]),
    Script("Paola Jiménez", "instagram", 55, external_id="17841433100987720", tags=("Nuevo",), turns=[
        C("Hacen colaboraciones con creadores de contenido?"),
        NORA(),
        C("@paoeats, reseñas de cafeterías en CDMX, 48k seguidores", gap=240),
        NORA(),
        OWNER("¡Hola Paola! Me encanta tu contenido. ¿Te late venir el jueves a las 10? Te invitamos a probar el "
              "menú de temporada ☕", gap=2400),
        C("Siii! Ahí nos vemos", gap=900),
    ]),
    Script("Emilio Guerrero", "instagram", 6 * H, external_id="17841409981235567", turns=[
        C("Cuál es el café más fuerte que tienen?"),
        NORA(),
        C("Y el café de olla lleva piloncillo?", media="latte_oscuro", gap=300),
        NORA(),
    ]),
    Script("Mariana Flores", "instagram", 20 * H, external_id="17841471160034428", tags=("Cliente frecuente",),
           turns=[
        C("Ya volvió el pan de elote?? 🌽"),
        NORA(),
        C("Genial, los amo 🧡", gap=60),
        NORA(),
    ]),
    Script("Iván Domínguez", "instagram", 2 * D + 5 * H, external_id="17841438801127790", turns=[
        C("Tienen vacantes de barista?"),
        NORA(),
    ]),
    Script("Natalia Silva", "instagram", 6 * D, external_id="17841499120066652", status="resolved", turns=[
        C("Qué días hacen las catas?"),
        NORA(),
        C("Me anoto con una amiga!", gap=1200),
        NORA(),
        AGENT("¡Listo, Natalia! Quedan apartados dos lugares a tu nombre ☕", gap=900),
    ]),
    Script("Tomás Aguilar", "instagram", 10 * D, external_id="17841420093381174", turns=[
        C("Hay estacionamiento?"),
        NORA(),
    ]),
    Script("Regina Castro", "instagram", 15 * D, external_id="17841466770029915", tags=("Pastel por encargo",),
           status="resolved", turns=[
        C("Hacen pasteles veganos?"),
        NORA(),
        C("Ok gracias", gap=300),
        NORA(),
    ]),
    # ---------------------------------------------------------------- Messenger
    Script("Laura Méndez", "facebook", 35, external_id="6712230945581204", phone="+525532217786",
           tags=("Catering", "Pedido pendiente"), notes="Despacho Méndez & Asociados, Insurgentes Sur 1457.",
           attributes={"empresa": "Méndez & Asociados", "personas": 40}, turns=[
        C("Buenas tardes, necesito un coffee break para 40 personas el viernes en nuestra oficina"),
        NORA(),
        C("De 9 a 11 am, en Insurgentes Sur 1457", gap=600),
        NORA(),
        OWNER("Hola Laura, te comparto la cotización del coffee break. Incluye barista, 80 piezas de pan y agua "
              "de jamaica.", media="cotizacion", gap=3600),
        C("Perfecto, cómo hago el anticipo?", gap=1800),
        OWNER("Es del 50% por transferencia a la cuenta que viene en la cotización. En cuanto lo recibamos te "
              "confirmamos la fecha.", gap=600),
        C("Listo, lo hago mañana temprano", gap=900),
    ]),
    Script("Óscar Rivera", "facebook", 4 * H, external_id="6623107784412093", turns=[
        C("Buenas, venden tarjetas de regalo?"),
        NORA(),
        C("¿Y las tarjetas se pueden comprar en línea?", gap=150),
        NORA(),
    ]),
    Script("Beatriz Soto", "facebook", 1 * D + 1 * H, external_id="6590021183347752", tags=("Cliente frecuente",),
           turns=[
        C("Feliz aniversario Café Aurora!! 🎉 ya 5 años"),
        NORA(),
        C("Va, ahí estaré jaja", gap=60),
        NORA(),
    ]),
    Script("Arturo Medina", "facebook", 3 * D + 4 * H, external_id="6634419920087731", turns=[
        C("Tienen wifi para trabajar?"),
        NORA(),
        C("Excelente", gap=120),
        NORA(),
    ]),
    Script("Claudia Herrera", "facebook", 7 * D, external_id="6678830012294415", tags=("Reclamo",), turns=[
        C("El domingo esperé 25 minutos mi desayuno y nadie me avisó"),
        NORA(),
        AGENT("Claudia, soy Diego, el gerente de turno. Tienes toda la razón; el domingo nos faltó una persona en "
              "cocina. Tu próximo desayuno corre por nuestra cuenta.", gap=5400),
        C("Gracias por responder, lo aprecio", gap=7200),
    ]),
    Script("Raúl Peña", "facebook", 11 * D, external_id="6601122784450938", status="resolved", turns=[
        C("Hacen envíos a Satélite?"),
        NORA(),
    ]),
    Script("Verónica Luna", "facebook", 20 * D, external_id="6690034471126650", status="resolved", turns=[
        C("A qué hora abren los domingos?"),
        NORA(),
        C("👍", gap=40),
        NORA(),
    ]),
    # ---------------------------------------------------------------- Web chat
    Script("Visitante 4821", "web", 1, external_id="v_8f3a2c91d4", online=True, turns=[
        C("hola"),
        NORA(),
        C("tienen desayunos hasta que hora?", gap=25),
        NORA(),
        C("Perfecto, ahorita voy", gap=15),
        NORA(),
    ]),
    Script("Santiago Ramos", "web", 70, external_id="v_11c0e7ab52", tags=("Catering",), turns=[
        C("Buen día, hacen desayunos para juntas de trabajo? somos 12"),
        NORA(),
        C("Perfecto, me pueden llamar? 55 1288 4410", gap=300),
        NORA(),
        AGENT("Hola Santiago, soy Diego. Te marco en 10 minutos; mientras, aquí está el menú 📄", media="menu",
              gap=600),
    ]),
    Script("Elena Vázquez", "web", 8 * H, external_id="v_5d72be0a13", turns=[
        C("¿Tienen opciones sin gluten?"),
        NORA(),
        C("Gracias por la honestidad", gap=90),
        NORA(),
    ]),
    Script("Visitante 0937", "web", 2 * D + 8 * H, external_id="v_a0913f4c77", turns=[
        C("cuanto cuesta el kilo de cafe?"),
        NORA(),
    ]),
    Script("Julia Paredes", "web", 9 * D, external_id="v_3e88d21b09", phone="+525541188830",
           tags=("Pastel por encargo",), turns=[
        C("Quiero un pastel de zanahoria para el martes, ¿cómo lo pido?"),
        NORA(),
        C("De un kilo, para el martes a las 5 pm. ¿Cómo lo aparto?", gap=120),
        NORA(),
        AGENT("¡Listo, Julia! Pastel de zanahoria de un kilo para el martes a las 17:00 ($690). Te mando por aquí "
              "los datos para el anticipo.", gap=900),
    ]),
    Script("Visitante 2264", "web", 16 * D, external_id="v_77b0c1d2e6", turns=[
        C("aceptan american express?"),
        NORA(),
    ]),
    # ---------------------------------------------------------------- Online shop (generic API channel)
    Script("Adriana Campos", "api", 40, external_id="tienda-cliente-1042", phone="+525523357719",
           tags=("Pedido pendiente",), turns=[
        C("Pedido #1042: 1 kg Veracruz Coatepec, molido para espresso. ¿Cuándo lo envían?"),
        NORA(),
    ]),
    Script("Luis Ortega", "api", 6 * D, external_id="tienda-cliente-0987", status="resolved", turns=[
        C("Pedido #0987: no me llegó la guía de envío"),
        NORA(),
        AGENT("Luis, la guía es 7720 1934 5521 (Estafeta). Te la reenviamos también por correo.", gap=2700),
        C("Recibido, gracias", gap=1800),
    ]),
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
