"""Words of the sandbox's replies, per language: what hotel staff write back, how their mail clients quote,
date, sign and prefix, and what their out-of-office notices say.

Kept apart from ``replies.py`` (the algorithm) because it is vocabulary. Every intent has several phrasings
per language, each tagged with the ``detail`` the ground truth reports for it. Placeholders: ``{name}`` (the
sender's first name), ``{day}``/``{day2}`` (weekday names), ``{phone}``, ``{hotel}``, ``{city}``,
``{colleague}``/``{colleague_email}``/``{colleague_title}``, ``{month}``, ``{date}``, ``{email}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")

Phrases = tuple[tuple[str, str], ...]
"""(detail, text) pairs."""


@dataclass(frozen=True)
class Language:
    """One language's words and its mail clients' conventions."""

    code: str
    months: tuple[str, ...]
    months_abbr: tuple[str, ...]
    weekdays: tuple[str, ...]
    weekdays_abbr: tuple[str, ...]
    greetings: tuple[str, ...]
    closings: tuple[str, ...]
    iphone: str
    outlook_mobile: str
    original_message: str
    labels: tuple[str, str, str, str]
    """Outlook's quoted-header labels: From, Sent, To, Subject (with the language's spacing before colons)."""
    outlook_sent: str
    gmail_attribution: str
    apple_attribution: str
    thunderbird_attribution: str
    outlook_prefix: str
    auto_reply_subject: str
    plain_ooo_subjects: tuple[str, ...]
    phone_label: str
    mobile_label: str
    intents: dict[str, Phrases]
    """category -> (detail, text); categories: interested, not_interested, question, unsubscribe, other."""
    ooo_bodies: tuple[str, ...]
    """Out-of-office texts around ``{when}`` (a return-date phrase) and ``{urgent}``."""
    ooo_nodate: tuple[str, ...]
    return_phrases: tuple[tuple[str, str], ...]
    """(kind, text with {date}); kind ``back_on`` writes the first day back, ``absent_until`` the last day away."""
    date_formats: tuple[str, ...]
    urgent: tuple[str, ...]
    left_company: tuple[str, ...]
    acknowledgement: tuple[str, ...]
    disclaimer: str
    seasons: tuple[str, ...] = field(default=())


def render_date(template: str, moment: datetime, language: Language) -> str:
    """A date/time in a client's style: ``{d}``, ``{dd}``, ``{m}``, ``{mm}``, ``{yyyy}``, ``{yy}``, ``{month}``,
    ``{mon}``, ``{weekday}``, ``{wd}``, ``{H}``, ``{HH}``, ``{MI}``, ``{h12}``, ``{AMPM}``, ``{sender}`` kept."""
    values = {
        "d": str(moment.day),
        "dd": f"{moment.day:02d}",
        "m": str(moment.month),
        "mm": f"{moment.month:02d}",
        "yyyy": str(moment.year),
        "yy": f"{moment.year % 100:02d}",
        "month": language.months[moment.month - 1],
        "mon": language.months_abbr[moment.month - 1],
        "weekday": language.weekdays[moment.weekday()],
        "wd": language.weekdays_abbr[moment.weekday()],
        "H": str(moment.hour),
        "HH": f"{moment.hour:02d}",
        "MI": f"{moment.minute:02d}",
        "h12": str((moment.hour - 1) % 12 + 1),
        "AMPM": "AM" if moment.hour < 12 else "PM",
        "sender": "{sender}",
    }
    return template.format(**values)


EN = Language(
    code="en",
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    months_abbr=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    weekdays_abbr=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    greetings=("Hi {name},", "Hello {name},", "Dear {name},", "{name},", "Hi there,", "Good morning {name},"),
    closings=("Best regards,", "Kind regards,", "Thanks,", "Best,", "Many thanks,", "Cheers,", "Regards,"),
    iphone="Sent from my iPhone",
    outlook_mobile="Get Outlook for iOS<https://aka-ms.example/o0ukef>",
    original_message="-----Original Message-----",
    labels=("From:", "Sent:", "To:", "Subject:"),
    outlook_sent="{weekday}, {d} {month} {yyyy} {HH}:{MI}",
    gmail_attribution="On {wd}, {d} {mon} {yyyy} at {HH}:{MI}, {sender} wrote:",
    apple_attribution="On {d} {mon} {yyyy}, at {HH}:{MI}, {sender} wrote:",
    thunderbird_attribution="On {dd}/{mm}/{yyyy} {HH}:{MI}, {sender} wrote:",
    outlook_prefix="RE:",
    auto_reply_subject="Automatic reply: {subject}",
    plain_ooo_subjects=("Out of office", "Out of Office: {subject}", "Away from the office", "Re: {subject}"),
    phone_label="Tel.",
    mobile_label="Mobile",
    intents={
        "interested": (
            (
                "meeting_request",
                "Thanks for reaching out, this sounds interesting. Could we set up a short call "
                "next week? {day} or {day2} afternoon works for me.",
            ),
            (
                "more_info",
                "Sounds good. Can you send me some more information and your pricing? I will share it with our owner.",
            ),
            (
                "call_me",
                "Yes, we would be interested in seeing a demo. Please give me a call on {phone}, mornings are best.",
            ),
            (
                "meeting_request",
                "Good timing, we have been looking into this for {hotel}. When would you have time for a video call?",
            ),
            (
                "more_info",
                "Interesting! We get a lot of enquiries we cannot answer quickly enough. Happy to "
                "learn more, please send over a few details.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Thank you, but we are not interested at the moment."),
            (
                "has_provider",
                "Thanks for your email. We already work with a provider we are happy with, so this is not for us.",
            ),
            ("no_budget", "Thanks, but there is no budget for anything like this this year."),
            ("not_interested", "No thank you. We handle our guest communication ourselves."),
            ("has_provider", "Appreciate the note, but we signed with another company last month."),
        ),
        "question": (
            ("pricing", "Thanks for your email. How much does this cost for a hotel of our size (about 40 rooms)?"),
            ("integration", "Does it integrate with our PMS? We use Mews, and our booking engine is separate."),
            ("data_protection", "Where is the guest data stored, and is it GDPR compliant?"),
            ("references", "Do you have any references from hotels in {city}?"),
            ("languages", "Which languages does it answer in? Many of our guests write in German and Italian."),
            ("trial", "Is there a free trial, and how long is the contract?"),
        ),
        "unsubscribe": (
            ("remove_me", "Please remove me from your mailing list and do not contact me again."),
            ("stop", "STOP"),
            ("remove_me", "Unsubscribe me please."),
            (
                "gdpr_erasure",
                "Under Article 17 GDPR I ask you to erase all personal data you hold about me and "
                "to confirm that you have done so.",
            ),
            ("remove_me", "Take me off your list, thanks."),
        ),
        "other": (
            (
                "referral",
                "I am not the right person for this. Please write to my colleague {colleague}, "
                "{colleague_title}, at {colleague_email}.",
            ),
            ("referral", "Thanks, this is handled by {colleague} ({colleague_email}), I have copied them in."),
            (
                "deferral",
                "We are in the middle of the season right now. Please contact me again after the summer, in {month}.",
            ),
            ("deferral", "Not right now, but feel free to get back to me in Q3 when we plan next year's budget."),
            ("deferral", "Too busy at the moment with the renovation. Could you follow up in {month}?"),
        ),
    },
    ooo_bodies=(
        "Thank you for your email. {when}. Until then I have limited access to email. {urgent}",
        "Hello, thank you for your message. {when}. I will reply as soon as possible after my return. {urgent}",
        "I'm currently on annual leave. {when}. {urgent}\n\nThank you.",
        "Thank you for contacting {hotel}. {when}. Your email will not be forwarded. {urgent}",
    ),
    ooo_nodate=(
        "Thank you for your email. I am currently out of the office with limited access to email and will "
        "reply on my return. {urgent}",
        "I am away from the hotel at the moment and will get back to you as soon as I can. {urgent}",
    ),
    return_phrases=(
        ("back_on", "I will be back on {date}"),
        ("absent_until", "I am out of the office until {date} inclusive"),
        ("back_on", "I'll be back in the office on {date}"),
        ("absent_until", "I am on holiday up to and including {date}"),
    ),
    date_formats=("{d} {month}", "{weekday}, {d} {month} {yyyy}", "{dd}/{mm}/{yyyy}", "{weekday} {d} {month}"),
    urgent=(
        "For urgent matters please contact {email}.",
        "If your enquiry is urgent, please email {email}.",
        "For reservations please write to {email}.",
        "",
    ),
    left_company=(
        "{full_name} no longer works at {hotel}. Please send your message to {email}. This mailbox is not monitored.",
        "Please note that {full_name} has left {hotel}. For all enquiries contact {email}.",
    ),
    acknowledgement=(
        "Thank you for contacting {hotel}. We have received your message and will answer within 24 hours.\n\n"
        "This is an automated confirmation, please do not reply.",
    ),
    disclaimer="This e-mail and any attachments are confidential and intended solely for the addressee. If "
    "you have received it in error, please notify the sender and delete it.",
    seasons=("September", "October", "November", "January"),
)

EN_US = Language(
    **{
        **EN.__dict__,
        "outlook_sent": "{weekday}, {month} {d}, {yyyy} {h12}:{MI} {AMPM}",
        "gmail_attribution": "On {wd}, {mon} {d}, {yyyy} at {h12}:{MI} {AMPM} {sender} wrote:",
        "apple_attribution": "On {mon} {d}, {yyyy}, at {h12}:{MI} {AMPM}, {sender} wrote:",
        "thunderbird_attribution": "On {m}/{d}/{yyyy} {h12}:{MI} {AMPM}, {sender} wrote:",
        "date_formats": ("{month} {d}", "{weekday}, {month} {d}, {yyyy}", "{mm}/{dd}/{yyyy}", "{weekday} {month} {d}"),
        "closings": ("Best,", "Thanks,", "Best regards,", "Thank you,", "All the best,", "Sincerely,"),
    }
)

DE = Language(
    code="de",
    months=(
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    months_abbr=("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."),
    weekdays=("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    weekdays_abbr=("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
    greetings=("Hallo {name},", "Guten Tag {name},", "Liebe {name},", "Hallo,", "Guten Morgen {name},"),
    closings=("Viele Grüße", "Beste Grüße", "Mit freundlichen Grüßen", "Freundliche Grüsse", "LG", "Herzliche Grüße"),
    iphone="Von meinem iPhone gesendet",
    outlook_mobile="Outlook für iOS<https://aka-ms.example/o0ukef> beziehen",
    original_message="-----Ursprüngliche Nachricht-----",
    labels=("Von:", "Gesendet:", "An:", "Betreff:"),
    outlook_sent="{weekday}, {d}. {month} {yyyy} {HH}:{MI}",
    gmail_attribution="Am {wd}, {d}. {mon} {yyyy} um {HH}:{MI} Uhr schrieb {sender}:",
    apple_attribution="Am {dd}.{mm}.{yyyy} um {HH}:{MI} schrieb {sender}:",
    thunderbird_attribution="Am {dd}.{mm}.{yy} um {HH}:{MI} schrieb {sender}:",
    outlook_prefix="AW:",
    auto_reply_subject="Automatische Antwort: {subject}",
    plain_ooo_subjects=("Abwesenheitsnotiz", "Abwesend: {subject}", "Urlaub", "AW: {subject}"),
    phone_label="Tel.",
    mobile_label="Mobil",
    intents={
        "interested": (
            (
                "meeting_request",
                "Danke für Ihre Nachricht, das klingt interessant. Können wir nächste Woche "
                "kurz telefonieren? {day} oder {day2} Nachmittag würde mir passen.",
            ),
            (
                "more_info",
                "Klingt gut. Schicken Sie mir bitte weitere Informationen und eine Preisliste, ich "
                "gebe das an unsere Geschäftsleitung weiter.",
            ),
            (
                "call_me",
                "Ja, eine Demo würde uns interessieren. Rufen Sie mich gerne unter {phone} an, am besten vormittags.",
            ),
            (
                "meeting_request",
                "Das kommt zur richtigen Zeit, wir suchen gerade so etwas für das {hotel}. Wann "
                "hätten Sie Zeit für einen Videocall?",
            ),
            (
                "more_info",
                "Spannend! Wir bekommen viele Anfragen, die wir nicht schnell genug beantworten. "
                "Senden Sie mir gern Unterlagen.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Vielen Dank, aber wir haben derzeit kein Interesse."),
            (
                "has_provider",
                "Danke für die Nachricht. Wir arbeiten bereits mit einem Anbieter, mit dem wir zufrieden sind.",
            ),
            ("no_budget", "Danke, dafür ist dieses Jahr leider kein Budget vorgesehen."),
            ("not_interested", "Kein Bedarf, danke. Die Gästekommunikation machen wir selbst."),
            ("has_provider", "Wir haben uns letzten Monat für eine andere Lösung entschieden. Trotzdem danke."),
        ),
        "question": (
            ("pricing", "Danke für Ihre Mail. Was kostet das für ein Haus unserer Größe (ca. 40 Zimmer)?"),
            ("integration", "Gibt es eine Schnittstelle zu unserem PMS? Wir arbeiten mit protel."),
            ("data_protection", "Wo werden die Gästedaten gespeichert, und ist das DSGVO-konform?"),
            ("references", "Haben Sie Referenzen von Hotels in {city}?"),
            (
                "languages",
                "In welchen Sprachen antwortet das System? Viele unserer Gäste schreiben auf "
                "Französisch und Italienisch.",
            ),
            ("trial", "Gibt es eine kostenlose Testphase, und wie lange läuft der Vertrag?"),
        ),
        "unsubscribe": (
            ("remove_me", "Bitte nehmen Sie mich aus Ihrem Verteiler und kontaktieren Sie mich nicht mehr."),
            ("stop", "Stopp."),
            ("remove_me", "Bitte austragen."),
            (
                "gdpr_erasure",
                "Ich widerspreche der Verarbeitung meiner Daten und verlange deren Löschung gemäß "
                "Art. 17 DSGVO. Bitte bestätigen Sie die Löschung.",
            ),
            ("remove_me", "Keine weiteren E-Mails bitte."),
        ),
        "other": (
            (
                "referral",
                "Dafür bin ich nicht zuständig. Bitte wenden Sie sich an meine Kollegin bzw. meinen "
                "Kollegen {colleague} ({colleague_title}): {colleague_email}.",
            ),
            ("referral", "Danke, das betreut {colleague}, {colleague_email}. Ich habe die Nachricht weitergeleitet."),
            (
                "deferral",
                "Wir sind gerade mitten in der Saison. Melden Sie sich bitte nach der Saison wieder, im {month}.",
            ),
            (
                "deferral",
                "Im Moment nicht, aber kommen Sie gerne im dritten Quartal wieder auf mich zu, wenn wir "
                "das Budget planen.",
            ),
            ("deferral", "Wir renovieren gerade. Bitte melden Sie sich im {month} noch einmal."),
        ),
    },
    ooo_bodies=(
        "Vielen Dank für Ihre Nachricht. {when}. {urgent}",
        "Guten Tag,\n\n{when}. Ihre E-Mail wird nicht weitergeleitet. {urgent}",
        "Danke für Ihre E-Mail. {when}. Bis dahin habe ich nur eingeschränkt Zugriff auf meine E-Mails. {urgent}",
        "Herzlichen Dank für Ihre Nachricht an das {hotel}. {when}. {urgent}",
    ),
    ooo_nodate=(
        "Vielen Dank für Ihre Nachricht. Ich bin zurzeit nicht im Büro und melde mich nach meiner Rückkehr. {urgent}",
        "Ich bin derzeit abwesend. Ihre Nachricht wird nicht weitergeleitet. {urgent}",
    ),
    return_phrases=(
        ("absent_until", "Ich bin bis einschließlich {date} nicht im Büro"),
        ("back_on", "Ab dem {date} bin ich wieder für Sie erreichbar"),
        ("absent_until", "Ich befinde mich bis zum {date} im Urlaub"),
        ("back_on", "Ich bin ab {date} wieder im Haus"),
    ),
    date_formats=("{dd}.{mm}.", "{dd}.{mm}.{yyyy}", "{d}. {month}", "{weekday}, {d}. {month} {yyyy}"),
    urgent=(
        "In dringenden Fällen wenden Sie sich bitte an {email}.",
        "Für Reservierungen schreiben Sie bitte an {email}.",
        "Bei dringenden Anliegen erreichen Sie unser Team unter {email}.",
        "",
    ),
    left_company=(
        "{full_name} ist nicht mehr im {hotel} tätig. Bitte senden Sie Ihre Nachricht an {email}. Dieses "
        "Postfach wird nicht mehr gelesen.",
        "Bitte beachten Sie: {full_name} hat das {hotel} verlassen. Ihre Ansprechpartner erreichen Sie unter {email}.",
    ),
    acknowledgement=(
        "Vielen Dank für Ihre Anfrage an das {hotel}. Wir haben Ihre Nachricht erhalten und melden uns innerhalb "
        "von 24 Stunden.\n\nDies ist eine automatisch generierte Nachricht.",
    ),
    disclaimer="Diese E-Mail enthält vertrauliche Informationen und ist ausschließlich für den Adressaten "
    "bestimmt. Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte den Absender und löschen Sie "
    "diese E-Mail.",
    seasons=("Oktober", "November", "Januar", "September"),
)

FR = Language(
    code="fr",
    months=(
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    months_abbr=("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    weekdays_abbr=("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    greetings=("Bonjour {name},", "Bonjour,", "Chère {name},", "Bonsoir {name},", "{name},"),
    closings=("Cordialement,", "Bien cordialement,", "Bien à vous,", "Belle journée,", "Merci,"),
    iphone="Envoyé de mon iPhone",
    outlook_mobile="Télécharger Outlook pour iOS<https://aka-ms.example/o0ukef>",
    original_message="-----Message d'origine-----",
    labels=("De :", "Envoyé :", "À :", "Objet :"),
    outlook_sent="{weekday} {d} {month} {yyyy} {HH}:{MI}",
    gmail_attribution="Le {wd} {d} {mon} {yyyy} à {HH}:{MI}, {sender} a écrit :",
    apple_attribution="Le {d} {mon} {yyyy} à {HH}:{MI}, {sender} a écrit :",
    thunderbird_attribution="Le {dd}/{mm}/{yyyy} à {HH}:{MI}, {sender} a écrit :",
    outlook_prefix="RE :",
    auto_reply_subject="Réponse automatique : {subject}",
    plain_ooo_subjects=("Absence du bureau", "Absent : {subject}", "Congés", "RE : {subject}"),
    phone_label="Tél.",
    mobile_label="Portable",
    intents={
        "interested": (
            (
                "meeting_request",
                "Merci pour votre message, cela m'intéresse. Pourrions-nous prévoir un appel la "
                "semaine prochaine ? {day} ou {day2} après-midi me conviendrait.",
            ),
            (
                "more_info",
                "Très bien. Pouvez-vous m'envoyer plus d'informations et vos tarifs ? Je transmettrai à la direction.",
            ),
            ("call_me", "Oui, une démonstration nous intéresse. Appelez-moi au {phone}, de préférence le matin."),
            (
                "meeting_request",
                "Cela tombe bien, nous cherchons justement une solution pour l'{hotel}. Quand "
                "seriez-vous disponible pour une visio ?",
            ),
            (
                "more_info",
                "Intéressant ! Nous recevons beaucoup de demandes auxquelles nous ne répondons pas "
                "assez vite. Envoyez-moi une documentation.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Merci, mais nous ne sommes pas intéressés pour le moment."),
            (
                "has_provider",
                "Merci pour votre message. Nous travaillons déjà avec un prestataire qui nous donne satisfaction.",
            ),
            ("no_budget", "Merci, mais nous n'avons pas de budget pour cela cette année."),
            ("not_interested", "Non merci, nous gérons la communication avec nos clients nous-mêmes."),
            ("has_provider", "Nous avons signé avec une autre société le mois dernier. Merci quand même."),
        ),
        "question": (
            (
                "pricing",
                "Merci pour votre mail. Quel est le tarif pour un hôtel de notre taille (environ 40 chambres) ?",
            ),
            ("integration", "Est-ce compatible avec notre PMS ? Nous utilisons Opera."),
            ("data_protection", "Où sont stockées les données des clients, et est-ce conforme au RGPD ?"),
            ("references", "Avez-vous des références d'hôtels à {city} ?"),
            (
                "languages",
                "Dans quelles langues le système répond-il ? Beaucoup de nos clients écrivent en "
                "anglais et en allemand.",
            ),
            ("trial", "Y a-t-il une période d'essai gratuite, et quelle est la durée du contrat ?"),
        ),
        "unsubscribe": (
            ("remove_me", "Merci de me retirer de votre liste de diffusion et de ne plus me contacter."),
            ("stop", "STOP"),
            ("remove_me", "Désinscription, merci."),
            (
                "gdpr_erasure",
                "Conformément à l'article 17 du RGPD, je vous demande de supprimer toutes les "
                "données me concernant et de me le confirmer.",
            ),
            ("remove_me", "Veuillez ne plus m'écrire."),
        ),
        "other": (
            (
                "referral",
                "Je ne suis pas la bonne personne. Merci d'écrire à mon collègue {colleague}, "
                "{colleague_title}, à l'adresse {colleague_email}.",
            ),
            (
                "referral",
                "Merci, c'est {colleague} qui s'occupe de ce sujet : {colleague_email}. Je l'ai mis(e) en copie.",
            ),
            ("deferral", "Nous sommes en pleine saison. Recontactez-moi après la saison, en {month}."),
            (
                "deferral",
                "Pas pour l'instant, mais revenez vers moi au troisième trimestre, quand nous préparons le budget.",
            ),
            ("deferral", "Nous sommes en travaux. Pourriez-vous me relancer en {month} ?"),
        ),
    },
    ooo_bodies=(
        "Bonjour, merci pour votre message. {when}. {urgent}",
        "Merci pour votre e-mail. {when}. D'ici là, mon accès à la messagerie est limité. {urgent}",
        "Bonjour,\n\n{when}. Votre message ne sera pas transféré. {urgent}\n\nCordialement",
        "Merci d'avoir contacté l'{hotel}. {when}. {urgent}",
    ),
    ooo_nodate=(
        "Bonjour, je suis actuellement absent(e) et je vous répondrai dès mon retour. {urgent}",
        "Merci pour votre message. Je suis en congés et n'ai pas accès à mes e-mails. {urgent}",
    ),
    return_phrases=(
        ("back_on", "Je serai de retour le {date}"),
        ("absent_until", "Je suis absent(e) du bureau jusqu'au {date} inclus"),
        ("back_on", "Je reprendrai le {date}"),
        ("absent_until", "Je suis en congés jusqu'au {date} inclus"),
    ),
    date_formats=("{d} {month}", "{weekday} {d} {month} {yyyy}", "{dd}/{mm}/{yyyy}", "{weekday} {d} {month}"),
    urgent=(
        "Pour toute urgence, merci de contacter {email}.",
        "Pour les réservations, écrivez à {email}.",
        "En cas d'urgence, notre équipe reste joignable à {email}.",
        "",
    ),
    left_company=(
        "{full_name} ne fait plus partie de l'équipe de l'{hotel}. Merci d'adresser votre message à {email}.",
        "{full_name} a quitté l'{hotel}. Pour toute demande, contactez {email}.",
    ),
    acknowledgement=(
        "Merci d'avoir contacté l'{hotel}. Nous avons bien reçu votre message et vous répondrons sous 24 "
        "heures.\n\nCeci est un message automatique, merci de ne pas y répondre.",
    ),
    disclaimer="Ce message et ses pièces jointes sont confidentiels et destinés exclusivement à leur "
    "destinataire. Si vous l'avez reçu par erreur, merci d'en informer l'expéditeur et de le supprimer.",
    seasons=("octobre", "novembre", "janvier", "septembre"),
)

ES = Language(
    code="es",
    months=(
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    months_abbr=("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"),
    weekdays=("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    weekdays_abbr=("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
    greetings=("Hola {name},", "Buenos días {name},", "Estimada {name}:", "Hola,", "Buenas tardes,"),
    closings=("Saludos,", "Un saludo,", "Atentamente,", "Un cordial saludo,", "Gracias,"),
    iphone="Enviado desde mi iPhone",
    outlook_mobile="Obtener Outlook para iOS<https://aka-ms.example/o0ukef>",
    original_message="-----Mensaje original-----",
    labels=("De:", "Enviado el:", "Para:", "Asunto:"),
    outlook_sent="{weekday}, {d} de {month} de {yyyy} {H}:{MI}",
    gmail_attribution="El {wd}, {d} {mon} {yyyy} a las {H}:{MI}, {sender} escribió:",
    apple_attribution="El {d} {mon} {yyyy}, a las {H}:{MI}, {sender} escribió:",
    thunderbird_attribution="El {d}/{m}/{yy} a las {H}:{MI}, {sender} escribió:",
    outlook_prefix="RE:",
    auto_reply_subject="Respuesta automática: {subject}",
    plain_ooo_subjects=("Fuera de la oficina", "Ausente: {subject}", "Vacaciones", "RE: {subject}"),
    phone_label="Tel.",
    mobile_label="Móvil",
    intents={
        "interested": (
            (
                "meeting_request",
                "Gracias por escribirnos, me parece interesante. ¿Podemos hablar la semana que "
                "viene? El {day} o el {day2} por la tarde me va bien.",
            ),
            ("more_info", "Suena bien. ¿Me puede enviar más información y precios? Se lo paso a la dirección."),
            ("call_me", "Sí, nos interesaría ver una demo. Llámeme al {phone}, mejor por la mañana."),
            (
                "meeting_request",
                "Justo estamos buscando algo así para el {hotel}. ¿Cuándo tendría disponibilidad "
                "para una videollamada?",
            ),
            (
                "more_info",
                "¡Interesante! Recibimos muchas consultas que no contestamos a tiempo. Envíeme más "
                "detalles, por favor.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Gracias, pero de momento no nos interesa."),
            ("has_provider", "Gracias por su correo. Ya trabajamos con un proveedor y estamos contentos."),
            ("no_budget", "Gracias, pero este año no tenemos presupuesto para esto."),
            ("not_interested", "No, gracias. La comunicación con los huéspedes la llevamos nosotros."),
            ("has_provider", "El mes pasado firmamos con otra empresa. Gracias de todas formas."),
        ),
        "question": (
            (
                "pricing",
                "Gracias por su correo. ¿Cuánto cuesta para un hotel de nuestro tamaño (unas 40 habitaciones)?",
            ),
            ("integration", "¿Se integra con nuestro PMS? Usamos Cloudbeds."),
            ("data_protection", "¿Dónde se guardan los datos de los huéspedes? ¿Cumple con el RGPD?"),
            ("references", "¿Tienen referencias de hoteles en {city}?"),
            ("languages", "¿En qué idiomas responde? Muchos de nuestros clientes escriben en inglés y francés."),
            ("trial", "¿Hay una prueba gratuita? ¿Cuánto dura el contrato?"),
        ),
        "unsubscribe": (
            ("remove_me", "Por favor, elimínenme de su lista y no me vuelvan a escribir."),
            ("stop", "STOP"),
            ("remove_me", "Baja, por favor."),
            (
                "gdpr_erasure",
                "En virtud del artículo 17 del RGPD solicito la supresión de todos mis datos "
                "personales y la confirmación por escrito.",
            ),
            ("remove_me", "No me envíen más correos."),
        ),
        "other": (
            (
                "referral",
                "No soy la persona adecuada. Escriba por favor a mi compañero {colleague}, "
                "{colleague_title}, en {colleague_email}.",
            ),
            ("referral", "Gracias, de esto se encarga {colleague} ({colleague_email}); le pongo en copia."),
            ("deferral", "Estamos en plena temporada. Vuelva a contactarme después del verano, en {month}."),
            ("deferral", "Ahora no, pero escríbame en el tercer trimestre, cuando preparamos el presupuesto."),
            ("deferral", "Estamos de reformas. ¿Puede escribirme de nuevo en {month}?"),
        ),
    },
    ooo_bodies=(
        "Gracias por su mensaje. {when}. {urgent}",
        "Hola:\n\n{when}. Hasta entonces tengo acceso limitado al correo. {urgent}",
        "Gracias por contactar con el {hotel}. {when}. Su correo no será reenviado. {urgent}",
        "Buenos días:\n\n{when}. Le responderé a mi regreso. {urgent}",
    ),
    ooo_nodate=(
        "Gracias por su correo. En este momento estoy fuera de la oficina y le responderé a mi regreso. {urgent}",
        "Estoy de vacaciones sin acceso al correo. {urgent}",
    ),
    return_phrases=(
        ("absent_until", "Estaré fuera de la oficina hasta el {date}, incluido"),
        ("back_on", "Estaré de vuelta el {date}"),
        ("back_on", "Me reincorporo el {date}"),
        ("absent_until", "Estoy de vacaciones hasta el {date} inclusive"),
    ),
    date_formats=("{d} de {month}", "{weekday} {d} de {month} de {yyyy}", "{dd}/{mm}/{yyyy}", "{d} de {month}"),
    urgent=(
        "Para asuntos urgentes, escriba a {email}.",
        "Para reservas, contacte con {email}.",
        "Si es urgente, nuestro equipo le atenderá en {email}.",
        "",
    ),
    left_company=(
        "{full_name} ya no trabaja en el {hotel}. Por favor, envíe su mensaje a {email}.",
        "{full_name} ha dejado el {hotel}. Para cualquier consulta escriba a {email}.",
    ),
    acknowledgement=(
        "Gracias por contactar con el {hotel}. Hemos recibido su mensaje y le responderemos en 24 horas.\n\n"
        "Este es un mensaje automático, por favor no responda.",
    ),
    disclaimer="Este mensaje y sus anexos son confidenciales y están dirigidos exclusivamente a su "
    "destinatario. Si lo ha recibido por error, comuníqueselo al remitente y elimínelo.",
    seasons=("octubre", "noviembre", "enero", "septiembre"),
)

IT = Language(
    code="it",
    months=(
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ),
    months_abbr=("gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"),
    weekdays=("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    weekdays_abbr=("lun", "mar", "mer", "gio", "ven", "sab", "dom"),
    greetings=("Buongiorno {name},", "Ciao {name},", "Gentile {name},", "Buonasera,", "Salve,"),
    closings=("Cordiali saluti,", "Saluti,", "Un saluto,", "Distinti saluti,", "Grazie,"),
    iphone="Inviato da iPhone",
    outlook_mobile="Scarica Outlook per iOS<https://aka-ms.example/o0ukef>",
    original_message="-----Messaggio originale-----",
    labels=("Da:", "Inviato:", "A:", "Oggetto:"),
    outlook_sent="{weekday} {d} {month} {yyyy} {HH}:{MI}",
    gmail_attribution="Il giorno {wd} {d} {mon} {yyyy} alle ore {HH}:{MI} {sender} ha scritto:",
    apple_attribution="Il giorno {d} {mon} {yyyy}, alle ore {HH}:{MI}, {sender} ha scritto:",
    thunderbird_attribution="Il {dd}/{mm}/{yy} {HH}:{MI}, {sender} ha scritto:",
    outlook_prefix="R:",
    auto_reply_subject="Risposta automatica: {subject}",
    plain_ooo_subjects=("Fuori sede", "Assente: {subject}", "Ferie", "R: {subject}"),
    phone_label="Tel.",
    mobile_label="Cell.",
    intents={
        "interested": (
            (
                "meeting_request",
                "Grazie per averci contattato, mi sembra interessante. Possiamo sentirci la "
                "prossima settimana? {day} o {day2} pomeriggio per me va bene.",
            ),
            ("more_info", "Bene. Può mandarmi più informazioni e i prezzi? Li giro alla direzione."),
            ("call_me", "Sì, una demo ci interessa. Mi chiami al {phone}, meglio la mattina."),
            (
                "meeting_request",
                "Arriva al momento giusto, stiamo cercando proprio una soluzione per l'{hotel}. "
                "Quando avrebbe tempo per una videochiamata?",
            ),
            (
                "more_info",
                "Interessante! Riceviamo tante richieste a cui non rispondiamo abbastanza in fretta. "
                "Mi mandi del materiale, per favore.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Grazie, ma al momento non siamo interessati."),
            ("has_provider", "Grazie per la mail. Lavoriamo già con un fornitore di cui siamo soddisfatti."),
            ("no_budget", "Grazie, ma quest'anno non abbiamo budget per questo."),
            ("not_interested", "No grazie, la comunicazione con gli ospiti la gestiamo noi."),
            ("has_provider", "Il mese scorso abbiamo firmato con un'altra azienda. Grazie comunque."),
        ),
        "question": (
            ("pricing", "Grazie per la mail. Quanto costa per un hotel delle nostre dimensioni (circa 40 camere)?"),
            ("integration", "Si integra con il nostro PMS? Usiamo Ericsoft."),
            ("data_protection", "Dove vengono salvati i dati degli ospiti? È conforme al GDPR?"),
            ("references", "Avete referenze di hotel a {city}?"),
            ("languages", "In quali lingue risponde? Molti nostri ospiti scrivono in inglese e tedesco."),
            ("trial", "C'è un periodo di prova gratuito? Quanto dura il contratto?"),
        ),
        "unsubscribe": (
            ("remove_me", "Vi prego di cancellarmi dalla vostra lista e di non contattarmi più."),
            ("stop", "STOP"),
            ("remove_me", "Cancellatemi, grazie."),
            (
                "gdpr_erasure",
                "Ai sensi dell'art. 17 del GDPR chiedo la cancellazione di tutti i miei dati "
                "personali e la relativa conferma.",
            ),
            ("remove_me", "Non scrivetemi più, per favore."),
        ),
        "other": (
            (
                "referral",
                "Non sono la persona giusta. Scriva per favore al mio collega {colleague}, "
                "{colleague_title}, all'indirizzo {colleague_email}.",
            ),
            ("referral", "Grazie, se ne occupa {colleague} ({colleague_email}), che metto in copia."),
            ("deferral", "Siamo in piena stagione. Mi ricontatti dopo l'estate, a {month}."),
            ("deferral", "Adesso no, ma mi riscriva nel terzo trimestre, quando prepariamo il budget."),
            ("deferral", "Stiamo ristrutturando. Può ricontattarmi a {month}?"),
        ),
    },
    ooo_bodies=(
        "Grazie per il messaggio. {when}. {urgent}",
        "Buongiorno,\n\n{when}. Fino ad allora ho accesso limitato alla posta. {urgent}",
        "Grazie per aver contattato l'{hotel}. {when}. La sua e-mail non verrà inoltrata. {urgent}",
        "Gentile mittente,\n\n{when}. Risponderò al mio rientro. {urgent}",
    ),
    ooo_nodate=(
        "Grazie per la sua e-mail. Sono fuori ufficio e risponderò al mio rientro. {urgent}",
        "Sono in ferie senza accesso alla posta elettronica. {urgent}",
    ),
    return_phrases=(
        ("absent_until", "Sarò fuori ufficio fino al {date} compreso"),
        ("back_on", "Rientrerò in ufficio il {date}"),
        ("absent_until", "Sono in ferie fino al {date} incluso"),
        ("back_on", "Sarò di nuovo in hotel il {date}"),
    ),
    date_formats=("{d} {month}", "{dd}/{mm}/{yyyy}", "{weekday} {d} {month} {yyyy}", "{d} {month} {yyyy}"),
    urgent=(
        "Per urgenze può scrivere a {email}.",
        "Per prenotazioni contatti {email}.",
        "In caso di urgenza il nostro team risponde a {email}.",
        "",
    ),
    left_company=(
        "{full_name} non lavora più presso l'{hotel}. La preghiamo di inviare il suo messaggio a {email}.",
        "{full_name} ha lasciato l'{hotel}. Per qualsiasi richiesta scriva a {email}.",
    ),
    acknowledgement=(
        "Grazie per aver contattato l'{hotel}. Abbiamo ricevuto il suo messaggio e le risponderemo entro 24 "
        "ore.\n\nQuesto è un messaggio automatico, non rispondere.",
    ),
    disclaimer="Questo messaggio e i suoi allegati sono riservati e destinati esclusivamente al destinatario. "
    "Se lo ha ricevuto per errore, avvisi il mittente e lo cancelli.",
    seasons=("ottobre", "novembre", "gennaio", "settembre"),
)

NL = Language(
    code="nl",
    months=(
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    months_abbr=("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
    weekdays=("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    weekdays_abbr=("ma", "di", "wo", "do", "vr", "za", "zo"),
    greetings=("Hoi {name},", "Beste {name},", "Hallo {name},", "Goedemorgen,", "Dag {name},"),
    closings=("Met vriendelijke groet,", "Groet,", "Groetjes,", "Vriendelijke groeten,", "Bedankt,"),
    iphone="Verstuurd vanaf mijn iPhone",
    outlook_mobile="Outlook voor iOS<https://aka-ms.example/o0ukef> downloaden",
    original_message="-----Oorspronkelijk bericht-----",
    labels=("Van:", "Verzonden:", "Aan:", "Onderwerp:"),
    outlook_sent="{weekday} {d} {month} {yyyy} {HH}:{MI}",
    gmail_attribution="Op {wd} {d} {mon} {yyyy} om {HH}:{MI} schreef {sender}:",
    apple_attribution="Op {d} {mon} {yyyy} om {HH}:{MI} heeft {sender} het volgende geschreven:",
    thunderbird_attribution="Op {dd}-{mm}-{yyyy} om {HH}:{MI} schreef {sender}:",
    outlook_prefix="RE:",
    auto_reply_subject="Automatisch antwoord: {subject}",
    plain_ooo_subjects=("Afwezig", "Niet aanwezig: {subject}", "Vakantie", "RE: {subject}"),
    phone_label="Tel.",
    mobile_label="Mobiel",
    intents={
        "interested": (
            (
                "meeting_request",
                "Bedankt voor je bericht, dit klinkt interessant. Kunnen we volgende week even "
                "bellen? {day} of {day2} middag komt mij goed uit.",
            ),
            (
                "more_info",
                "Klinkt goed. Kun je me meer informatie en de prijzen sturen? Dan leg ik het voor aan de directie.",
            ),
            ("call_me", "Ja, een demo lijkt ons interessant. Bel me gerust op {phone}, het liefst 's ochtends."),
            (
                "meeting_request",
                "Goede timing, we zoeken precies zoiets voor {hotel}. Wanneer heb je tijd voor een videogesprek?",
            ),
            (
                "more_info",
                "Interessant! We krijgen veel vragen die we niet snel genoeg beantwoorden. Stuur me "
                "wat meer informatie.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Bedankt, maar we hebben op dit moment geen interesse."),
            ("has_provider", "Bedankt voor je mail. We werken al met een leverancier waar we tevreden over zijn."),
            ("no_budget", "Bedankt, maar hier is dit jaar geen budget voor."),
            ("not_interested", "Nee, dank je. De communicatie met gasten doen we zelf."),
            ("has_provider", "We hebben vorige maand met een ander bedrijf getekend. Toch bedankt."),
        ),
        "question": (
            ("pricing", "Bedankt voor je mail. Wat kost dit voor een hotel van onze grootte (ongeveer 40 kamers)?"),
            ("integration", "Is er een koppeling met ons PMS? Wij gebruiken Mews."),
            ("data_protection", "Waar worden de gastgegevens opgeslagen, en is het AVG-proof?"),
            ("references", "Hebben jullie referenties van hotels in {city}?"),
            ("languages", "In welke talen antwoordt het systeem? Veel van onze gasten schrijven in het Duits."),
            ("trial", "Is er een gratis proefperiode, en hoe lang loopt het contract?"),
        ),
        "unsubscribe": (
            ("remove_me", "Haal mij alstublieft uit uw mailinglijst en neem geen contact meer op."),
            ("stop", "STOP"),
            ("remove_me", "Graag uitschrijven."),
            (
                "gdpr_erasure",
                "Op grond van artikel 17 AVG verzoek ik u al mijn persoonsgegevens te verwijderen "
                "en dit te bevestigen.",
            ),
            ("remove_me", "Geen mails meer graag."),
        ),
        "other": (
            (
                "referral",
                "Daar ben ik niet de juiste persoon voor. Mail gerust mijn collega {colleague}, "
                "{colleague_title}: {colleague_email}.",
            ),
            ("referral", "Bedankt, dit valt onder {colleague} ({colleague_email}), die ik in de cc heb gezet."),
            ("deferral", "We zitten midden in het seizoen. Neem na het seizoen weer contact op, in {month}."),
            ("deferral", "Nu even niet, maar kom gerust in het derde kwartaal bij me terug als we het budget maken."),
            ("deferral", "We zijn aan het verbouwen. Kun je in {month} nog eens mailen?"),
        ),
    },
    ooo_bodies=(
        "Bedankt voor je bericht. {when}. {urgent}",
        "Goedendag,\n\n{when}. Tot die tijd heb ik beperkt toegang tot mijn e-mail. {urgent}",
        "Bedankt voor uw e-mail aan {hotel}. {when}. Uw bericht wordt niet doorgestuurd. {urgent}",
        "Hallo,\n\n{when}. Na mijn terugkomst reageer ik zo snel mogelijk. {urgent}",
    ),
    ooo_nodate=(
        "Bedankt voor uw e-mail. Ik ben momenteel afwezig en reageer na mijn terugkomst. {urgent}",
        "Ik ben met vakantie en lees mijn e-mail niet. {urgent}",
    ),
    return_phrases=(
        ("absent_until", "Ik ben tot en met {date} afwezig"),
        ("back_on", "Vanaf {date} ben ik weer aanwezig"),
        ("absent_until", "Ik ben met vakantie tot en met {date}"),
        ("back_on", "Ik ben op {date} weer op kantoor"),
    ),
    date_formats=("{d} {month}", "{dd}-{mm}-{yyyy}", "{weekday} {d} {month}", "{weekday} {d} {month} {yyyy}"),
    urgent=(
        "Voor dringende zaken kunt u mailen naar {email}.",
        "Voor reserveringen: {email}.",
        "Bij spoed is ons team bereikbaar via {email}.",
        "",
    ),
    left_company=(
        "{full_name} werkt niet meer bij {hotel}. Stuur uw bericht alstublieft naar {email}.",
        "{full_name} is uit dienst bij {hotel}. Voor vragen kunt u terecht bij {email}.",
    ),
    acknowledgement=(
        "Bedankt voor uw bericht aan {hotel}. We hebben uw e-mail ontvangen en reageren binnen 24 uur.\n\n"
        "Dit is een automatisch bericht.",
    ),
    disclaimer="Dit bericht is vertrouwelijk en uitsluitend bestemd voor de geadresseerde. Heeft u het per "
    "vergissing ontvangen, laat het de afzender dan weten en verwijder het.",
    seasons=("oktober", "november", "januari", "september"),
)

PT = Language(
    code="pt",
    months=(
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ),
    months_abbr=("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"),
    weekdays=("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo"),
    weekdays_abbr=("seg", "ter", "qua", "qui", "sex", "sáb", "dom"),
    greetings=("Olá {name},", "Bom dia {name},", "Cara {name},", "Boa tarde,", "Olá,"),
    closings=("Cumprimentos,", "Com os melhores cumprimentos,", "Atenciosamente,", "Obrigado,", "Abraço,"),
    iphone="Enviado do meu iPhone",
    outlook_mobile="Obter o Outlook para iOS<https://aka-ms.example/o0ukef>",
    original_message="-----Mensagem original-----",
    labels=("De:", "Enviado:", "Para:", "Assunto:"),
    outlook_sent="{weekday}, {d} de {month} de {yyyy} {HH}:{MI}",
    gmail_attribution="Em {wd}., {d} de {mon}. de {yyyy} às {HH}:{MI}, {sender} escreveu:",
    apple_attribution="No dia {d}/{mm}/{yyyy}, às {HH}:{MI}, {sender} escreveu:",
    thunderbird_attribution="Em {dd}/{mm}/{yyyy} {HH}:{MI}, {sender} escreveu:",
    outlook_prefix="RE:",
    auto_reply_subject="Resposta automática: {subject}",
    plain_ooo_subjects=("Ausente do escritório", "Ausência: {subject}", "Férias", "RE: {subject}"),
    phone_label="Tel.",
    mobile_label="Telem.",
    intents={
        "interested": (
            (
                "meeting_request",
                "Obrigado pelo contacto, parece interessante. Podemos falar na próxima semana? "
                "{day} ou {day2} à tarde dá-me jeito.",
            ),
            ("more_info", "Parece bem. Pode enviar-me mais informação e os preços? Vou partilhar com a direção."),
            ("call_me", "Sim, gostaríamos de ver uma demonstração. Ligue-me para o {phone}, de preferência de manhã."),
            (
                "meeting_request",
                "Vem mesmo a calhar, estamos à procura de algo assim para o {hotel}. Quando tem "
                "disponibilidade para uma videochamada?",
            ),
            (
                "more_info",
                "Interessante! Recebemos muitos pedidos a que não respondemos a tempo. Envie-me mais "
                "detalhes, por favor.",
            ),
        ),
        "not_interested": (
            ("not_interested", "Obrigado, mas de momento não temos interesse."),
            ("has_provider", "Obrigado pelo email. Já trabalhamos com um fornecedor com quem estamos satisfeitos."),
            ("no_budget", "Obrigado, mas este ano não temos orçamento para isto."),
            ("not_interested", "Não, obrigado. Tratamos nós da comunicação com os hóspedes."),
            ("has_provider", "Assinámos com outra empresa no mês passado. Obrigado na mesma."),
        ),
        "question": (
            ("pricing", "Obrigado pelo email. Quanto custa para um hotel da nossa dimensão (cerca de 40 quartos)?"),
            ("integration", "Integra com o nosso PMS? Usamos o Host."),
            ("data_protection", "Onde ficam guardados os dados dos hóspedes? Cumpre o RGPD?"),
            ("references", "Têm referências de hotéis em {city}?"),
            ("languages", "Em que línguas responde? Muitos dos nossos hóspedes escrevem em inglês e espanhol."),
            ("trial", "Há um período experimental gratuito? Qual é a duração do contrato?"),
        ),
        "unsubscribe": (
            ("remove_me", "Por favor, retirem-me da vossa lista e não me contactem mais."),
            ("stop", "STOP"),
            ("remove_me", "Cancelar subscrição, por favor."),
            (
                "gdpr_erasure",
                "Ao abrigo do artigo 17.º do RGPD, solicito o apagamento de todos os meus dados "
                "pessoais e a respetiva confirmação.",
            ),
            ("remove_me", "Não me enviem mais emails."),
        ),
        "other": (
            (
                "referral",
                "Não sou a pessoa indicada. Escreva por favor ao meu colega {colleague}, "
                "{colleague_title}, para {colleague_email}.",
            ),
            ("referral", "Obrigado, quem trata disto é {colleague} ({colleague_email}), que coloco em cópia."),
            ("deferral", "Estamos em plena época alta. Volte a contactar-me depois do verão, em {month}."),
            ("deferral", "Agora não, mas contacte-me no terceiro trimestre, quando preparamos o orçamento."),
            ("deferral", "Estamos em obras. Pode voltar a escrever-me em {month}?"),
        ),
    },
    ooo_bodies=(
        "Obrigado pela sua mensagem. {when}. {urgent}",
        "Olá,\n\n{when}. Até lá, tenho acesso limitado ao email. {urgent}",
        "Obrigado por contactar o {hotel}. {when}. A sua mensagem não será reencaminhada. {urgent}",
        "Bom dia,\n\n{when}. Responderei assim que regressar. {urgent}",
    ),
    ooo_nodate=(
        "Obrigado pelo seu email. De momento estou ausente e responderei quando regressar. {urgent}",
        "Estou de férias sem acesso ao email. {urgent}",
    ),
    return_phrases=(
        ("absent_until", "Estarei ausente do escritório até {date}, inclusive"),
        ("back_on", "Regresso no dia {date}"),
        ("absent_until", "Encontro-me de férias até ao dia {date}, inclusive"),
        ("back_on", "Estarei de volta a {date}"),
    ),
    date_formats=("{d} de {month}", "{dd}/{mm}/{yyyy}", "{weekday}, {d} de {month}", "{d} de {month} de {yyyy}"),
    urgent=(
        "Para assuntos urgentes, contacte {email}.",
        "Para reservas, escreva para {email}.",
        "Em caso de urgência, a nossa equipa responde em {email}.",
        "",
    ),
    left_company=(
        "{full_name} já não trabalha no {hotel}. Por favor, envie a sua mensagem para {email}.",
        "{full_name} deixou o {hotel}. Para qualquer assunto, contacte {email}.",
    ),
    acknowledgement=(
        "Obrigado por contactar o {hotel}. Recebemos a sua mensagem e responderemos em 24 horas.\n\n"
        "Esta é uma mensagem automática, por favor não responda.",
    ),
    disclaimer="Esta mensagem e os seus anexos são confidenciais e destinam-se exclusivamente ao destinatário. "
    "Se a recebeu por engano, informe o remetente e apague-a.",
    seasons=("outubro", "novembro", "janeiro", "setembro"),
)

BY_CODE: dict[str, Language] = {language.code: language for language in (EN, DE, FR, ES, IT, NL, PT)}


def language(code: str, country: str = "") -> Language:
    """The words for a language; American English dates and clients for US hotels."""
    return EN_US if code == "en" and country == "US" else BY_CODE[code]
