"""Translations into and out of English, the sample's main source of non-ASCII text."""

from __future__ import annotations

import random

from tests.sample_generator.shapes import Dialogue

_LANGUAGES = ("French", "Spanish", "German", "Japanese", "Chinese (Simplified)", "Portuguese")
_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Good morning! Your order has shipped and should arrive on Thursday.",
        (
            "Bonjour ! Votre commande a été expédiée et devrait arriver jeudi.",
            "¡Buenos días! Su pedido ha sido enviado y debería llegar el jueves.",
            "Guten Morgen! Ihre Bestellung wurde versandt und sollte am Donnerstag ankommen.",
            "おはようございます！ご注文の商品は発送済みで、木曜日に到着する予定です。",
            "早上好！您的订单已发货，预计周四送达。",
            "Bom dia! O seu pedido foi enviado e deve chegar na quinta-feira.",
        ),
    ),
    (
        "Thank you for your patience. We are looking into the issue.",
        (
            "Merci de votre patience. Nous examinons le problème.",
            "Gracias por su paciencia. Estamos investigando el problema.",
            "Vielen Dank für Ihre Geduld. Wir gehen dem Problem nach.",
            "お待ちいただきありがとうございます。現在、問題を調査しております。",
            "感谢您的耐心等待。我们正在调查这个问题。",
            "Obrigado pela paciência. Estamos analisando o problema.",
        ),
    ),
    (
        "The meeting has been moved to 3 p.m. tomorrow.",
        (
            "La réunion a été déplacée à demain, 15 h.",
            "La reunión se ha trasladado a mañana a las 15:00.",
            "Das Meeting wurde auf morgen um 15 Uhr verschoben.",
            "会議は明日の午後3時に変更されました。",
            "会议已改到明天下午三点。",
            "A reunião foi remarcada para amanhã às 15h.",
        ),
    ),
    (
        "Where is the nearest train station?",
        (
            "Où est la gare la plus proche ?",
            "¿Dónde está la estación de tren más cercana?",
            "Wo ist der nächste Bahnhof?",
            "一番近い駅はどこですか？",
            "最近的火车站在哪里？",
            "Onde fica a estação de trem mais próxima?",
        ),
    ),
    (
        "Please keep your receipt; you will need it for returns.",
        (
            "Veuillez conserver votre reçu ; vous en aurez besoin pour les retours.",
            "Por favor, conserve su recibo; lo necesitará para las devoluciones.",
            "Bitte bewahren Sie Ihren Kassenbon auf; Sie benötigen ihn für Rücksendungen.",
            "返品の際に必要になりますので、レシートは保管しておいてください。",
            "请保留您的收据，退货时需要用到。",
            "Guarde o seu recibo; você vai precisar dele para devoluções.",
        ),
    ),
    (
        "I'm allergic to peanuts. Does this dish contain nuts?",
        (
            "Je suis allergique aux arachides. Ce plat contient-il des fruits à coque ?",
            "Soy alérgico a los cacahuetes. ¿Este plato lleva frutos secos?",
            "Ich bin allergisch gegen Erdnüsse. Enthält dieses Gericht Nüsse?",
            "ピーナッツアレルギーがあります。この料理にナッツは入っていますか？",
            "我对花生过敏。这道菜含有坚果吗？",
            "Sou alérgico a amendoim. Este prato contém castanhas?",
        ),
    ),
    (
        "Our office will be closed on Monday for the public holiday.",
        (
            "Nos bureaux seront fermés lundi en raison du jour férié.",
            "Nuestra oficina permanecerá cerrada el lunes por el día festivo.",
            "Unser Büro bleibt am Montag wegen des Feiertags geschlossen.",
            "祝日のため、月曜日は休業いたします。",
            "因公众假期，我们的办公室周一将关闭。",
            "Nosso escritório estará fechado na segunda-feira por causa do feriado.",
        ),
    ),
    (
        "Can you recommend a good restaurant nearby?",
        (
            "Pouvez-vous me recommander un bon restaurant à proximité ?",
            "¿Me puede recomendar un buen restaurante cerca de aquí?",
            "Können Sie mir ein gutes Restaurant in der Nähe empfehlen?",
            "近くにおすすめのレストランはありますか？",
            "你能推荐一家附近不错的餐厅吗？",
            "Você pode recomendar um bom restaurante aqui perto?",
        ),
    ),
)
_FOREIGN_PHRASES = (
    (
        "French",
        "Je voudrais réserver une table pour deux personnes ce soir, vers 20 h.",
        "I'd like to book a table for two tonight, around 8 p.m.",
        'Polite and neutral: "je voudrais" is the standard courteous way to ask.',
    ),
    (
        "German",
        "Könnten Sie mir bitte die Rechnung noch einmal per E-Mail schicken?",
        "Could you please email me the invoice again?",
        'Formal: it uses "Sie" and the polite "könnten".',
    ),
    (
        "Japanese",
        "明日の会議の資料を送っていただけますか？",
        "Could you send me the materials for tomorrow's meeting?",
        'Formal and polite: "いただけますか" is a respectful way to ask a favour.',
    ),
    (
        "Spanish",
        "El paquete llegó dañado y me gustaría pedir un reembolso.",
        "The package arrived damaged and I'd like to request a refund.",
        'Neutral and polite; "me gustaría" softens the request.',
    ),
    (
        "Chinese",
        "请问这个价格包含运费吗？",
        "Excuse me, does this price include shipping?",
        'Polite: "请问" is a courteous way to open a question.',
    ),
    (
        "Portuguese",
        "Vocês entregam aos sábados? Preciso receber o pedido antes de domingo.",
        "Do you deliver on Saturdays? I need to receive the order before Sunday.",
        'Casual Brazilian Portuguese ("vocês"), but perfectly polite.',
    ),
)


def _into_language_dialogue(rng: random.Random) -> Dialogue:
    english, translations = rng.choice(_PHRASES)
    first, second, third = rng.sample(range(len(_LANGUAGES)), 3)
    request = rng.choice((english, f"Translate: {english}", f'"{english}"'))
    system = (
        "You are a professional translator. Translate the user's message into "
        f"{_LANGUAGES[first]}. Reply with the translation only."
    )
    follow_ups = (
        (f"And in {_LANGUAGES[second]}?", translations[second]),
        (f"Now {_LANGUAGES[third]}, please.", translations[third]),
        ("Thanks! 👍", "You're welcome!"),
    )
    return Dialogue("translation", system, ((request, translations[first]), *follow_ups))


def _into_english_dialogue(rng: random.Random) -> Dialogue:
    language, source, english, register = rng.choice(_FOREIGN_PHRASES)
    system = "Translate the user's message into English. Reply with the translation only."
    follow_ups = (
        ("Which language was the original?", f"It was {language}."),
        ("Is the original formal or casual?", register),
        ("Great, thanks!", "You're welcome!"),
    )
    return Dialogue("translation", system, ((source, english), *follow_ups))


def translation_dialogue(rng: random.Random) -> Dialogue:
    """Script a translation into or out of English, with non-ASCII text.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the translation category.
    """
    builder = _into_language_dialogue if rng.random() < 0.7 else _into_english_dialogue
    return builder(rng)
