"""What a person's own words ask for: to be left alone, a call, an answer, or nothing yet.

Deterministic rules in seven languages over the new text only (see :mod:`.text`). The order is the order of
harm: an unsubscribe must never be read as interest, and a polite "no, thank you" must never be read as a
question; a deferral or a referral is ``other`` with its detail, so that nobody chases it as a lead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from jengu_pipeline.domain.replies.model import Category

_FLAGS: Final = re.IGNORECASE | re.UNICODE | re.MULTILINE | re.DOTALL


def _rules(*pairs: tuple[str, str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((detail, re.compile(pattern, _FLAGS)) for detail, pattern in pairs)


UNSUBSCRIBE: Final = _rules(
    (
        "gdpr_erasure",
        r"(gdpr|dsgvo|rgpd|avg|lgpd|art(icle|ikel|ículo|icolo|igo)?\.? ?17)\b.{0,120}"
        r"(delet|eras|lösch|suppr|effac|borr|supres|elimin|cancell|verwijder|apag|elimina)|"
        r"(delet|eras|lösch|suppr|effac|borr|supres|cancellazione|verwijder|apag)\w*.{0,60}"
        r"(my|meine[rn]?|mes|mis|miei|mijn|meus) (personal |personenbezogenen |persönlichen |personnelles |"
        r"personales |personali |persoons|pessoais )?(data|daten|données|datos|dati|gegevens|dados)|"
        r"right to (erasure|be forgotten)|recht auf (löschung|vergessenwerden)|droit (à l'effacement|à l'oubli)|"
        r"derecho (de supresión|al olvido)|diritto (alla cancellazione|all'oblio)|recht op (vergetelheid|"
        r"verwijdering)|direito (ao apagamento|ao esquecimento)",
    ),
    (
        "remove_me",
        r"\bunsubscribe|\bopt[- ]?out\b|stop (e-?mailing|mailing|contacting|writing to|sending (me|us))|remove (me|us|"
        r"my (e-?mail|address|details))|take (me|us) off|"
        r"(don't|do not|never|no longer) (contact|email|e-mail|write|mail|message) (me|us)|"
        r"(no|stop sending|don't send) (me )?(more|further|any more) (e-?mails|messages|mails)|"
        r"delete (me|my (e-?mail|address|contact))|(off|from) your (mailing )?(list|database)|"
        r"abmelden|austragen|aus (ihrem|dem|eurem|ihrer) (verteiler|liste|datenbank|e-mail-verteiler)|"
        r"keine (weiteren |werbe)?(e-?mails|mails|nachrichten|werbung)|nicht (mehr|weiter) (kontaktieren|anschreiben|"
        r"schreiben|zu kontaktieren|anzuschreiben)|(streichen|entfernen) sie mich|"
        r"désabonn|désinscri|retirez[- ]moi|supprimez[- ]moi|rayez[- ]moi|ne (plus )?(me |m'|nous )(plus )?"
        r"(contacter|contactez|écrire|écrivez|envoyer|envoyez)|ne plus (me |nous )?(contacter|écrire)|plus (d'|"
        r"de )(e-?mails?|messages?|mails?)|"
        r"de votre (liste|fichier|base)|"
        r"darme de baja|dar(me|nos)? de baja|denme de baja|(elimín|quít|borr|sáqu)en?(me|nos)|no (me|nos) "
        r"(contacte[ns]?|escriba[ns]?|vuelva[ns]? a (escribir|contactar)|envíe[ns]?|mande[ns]?)|"
        r"no (me|nos) (envíe[ns]?|mande[ns]?|escriba[ns]?) más|de (su|vuestra) (lista|base de datos)|"
        r"cancellar?(mi|ci|temi)|cancellatemi|rimuover?(mi|ci|temi)|disiscriv|non (contattar|scriver|"
        r"mandar)(mi|ci)|non (scrivete|contattate|mandate)(mi|ci)|non (mi|ci) (contatti|scriva|scrivete|contattate)|"
        r"dalla vostra (lista|mailing)|"
        r"afmelden|uitschrijven|haal (mij|me|ons) .{0,30}uit|verwijder (mij|me|ons)|geen (e-?mails|berichten|"
        r"contact) meer|niet meer (mailen|contacteren|benaderen|schrijven)|uit (uw|jullie) (mailinglijst|lijst|"
        r"bestand)|"
        r"descadastr|cancelar (a )?(minha )?(subscrição|inscrição)|(remov|retir|exclu)[ae]-?me|não (me|nos) "
        r"(contact|escrev|envi)|não (quero|queremos) receber|da (vossa|sua) (lista|base de dados)",
    ),
    (
        "stop",
        r"^\W*(baja|baja,? por favor|stop|stopp|halt|arrête[zr]?|arrêt|alto|basta|para|pare|parem|stoppen|stop it|"
        r"stop please|"
        r"please stop|stop mailing( me)?|stop emailing( me)?)\W*$",
    ),
)

NOT_INTERESTED: Final = _rules(
    (
        "has_provider",
        r"signed (up )?with|für (eine|einen|ein) ander\w* (lösung|anbieter|firma|partner|system) entschieden|"
        r"ander\w* (anbieter|firma|lösung) (entschieden|gewählt)|firmato con|un'altra (azienda|società|soluzione)|"
        r"altro fornitore|firmamos con|otra (empresa|solución)|otro proveedor|signé avec|(une )?autre (société|"
        r"solution|entreprise)|autre prestataire|ander(e)? (bedrijf|leverancier|oplossing)|getekend|"
        r"assin(á|a)mos com|outra (empresa|solução)|outro fornecedor|(went|gone|decided to go) with|chose (another|"
        r"a different)|another (company|provider|"
        r"supplier|vendor)|"
        r"(already|currently) (have|use|using|work with|working with|got) (a |an |our own )?"
        r"(provider|solution|system|tool|partner|vendor|chatbot|something)|"
        r"(happy|satisfied) with (our|the) (current )?(provider|solution|system|partner)|"
        r"(bereits|schon) (einen|eine|ein)? ?(anbieter|lösung|system|partner|dienstleister)|arbeiten (bereits|schon) "
        r"mit|sind (sehr )?zufrieden mit|"
        r"(déjà|avons) (un|une)? ?(prestataire|fournisseur|solution|partenaire|outil)|travaillons déjà avec|"
        r"ya (trabajamos|tenemos|contamos|usamos|utilizamos) (con )?(un|una)? ?(proveedor|solución|sistema|socio)?|"
        r"(lavoriamo|abbiamo) già|già (un|una) (fornitore|soluzione|partner|sistema)|"
        r"(hebben|werken) (al|reeds) (een|met)|al een (leverancier|oplossing|systeem|partner)|"
        r"já (temos|trabalhamos|usamos|utilizamos) (com )?(um|uma)? ?(fornecedor|solução|sistema|parceiro)?",
    ),
    (
        "no_budget",
        r"no budget|(don't|do not) have (the |a )?budget|budget (is|has been) (spent|allocated|frozen)|"
        r"kein(en)? budget|pas de budget|pas le budget|sin presupuesto|no (tenemos|hay) presupuesto|"
        r"non (abbiamo|c'è) (il )?budget|geen budget|sem orçamento|não (temos|há) orçamento",
    ),
    (
        "not_interested",
        r"not (really |currently |at all )?interested|no interest|(not|no longer) (looking|relevant) for us|"
        r"not (for|right for|a fit for) us|no,? thank(s| you)|we('ll| will) pass|not something we need|"
        r"kein(e|en)? (interesse|bedarf)|nicht interessiert|nein,? danke|brauchen (wir|das) (nicht|kein)|"
        r"pas intéressée?s?|ne (nous|m')intéresse pas|pas (d'|de )?(intérêt|besoin)|non,? merci|"
        r"no (nos|me) interesa|no estamos interesad|no,? gracias|no (lo )?necesitamos|"
        r"non (ci|mi) interessa|non siamo interessat|no,? grazie|non ne abbiamo bisogno|"
        r"geen (interesse|behoefte)|niet geïnteresseerd|nee,? (dank|bedankt)|"
        r"não (temos|tenho) interesse|não estamos interessad|não,? obrigad|não precisamos",
    ),
)

OTHER: Final = _rules(
    (
        "referral",
        r"[\w.+-]+@[\w-]+\.[\w.-]+.{0,60}(colleague|kolleg|collègue|collega|colega|compañer)|"
        r"(colleague|kolleg|collègue|collega|colega|compañer).{0,60}[\w.+-]+@[\w-]+\.|"
        r"(contact|write to|e-?mail|reach out to|send (it|this) to)\s+[\w.+-]+@[\w-]+\.|"
        r"(contact|write to|email|e-mail|reach out to|speak (to|with)|forward(ed)? (it |this )?to) (my|our) "
        r"(colleague|manager|director|gm|revenue|sales|marketing|owner|team)|the (right|best|correct) (person|"
        r"contact)( for (this|that))? (is|would be)|"
        r"responsible (for this )?is|in charge of (this|that|marketing|sales)|"
        r"(kollegin|kollege|kollegen|ansprechpartner(in)?|zuständig)|(weitergeleitet|weiterleiten) an|"
        r"(mon|ma) (collègue|responsable|directeur|directrice)|la personne (en charge|responsable|à contacter)|"
        r"(mi|nuestra?) (compañer[oa]|colega|responsable|director[a]?)|la persona (encargada|responsable)|"
        r"(il mio|la mia|il nostro|la nostra) (collega|responsabile|direttore|direttrice)|la persona (giusta|"
        r"responsabile|incaricata)|"
        r"(mijn|onze) (collega|manager|directeur)|(de|het) (juiste|aangewezen) persoon|"
        r"(o meu|a minha|o nosso|a nossa) (colega|responsável|diretor[a]?)|a pessoa (certa|responsável)",
    ),
    (
        "deferral",
        r"(get back|come back|write|contact|reach out|try|check in|follow up)\w* (to )?(me |us )?(again )?"
        r"(in|after|next|later|around|towards) (the )?(\w+ )?(months?|weeks?|year|season|spring|summer|autumn|fall|"
        r"winter|january|february|march|april|may|june|july|august|september|october|november|december|q[1-4])\b|"
        r"(get back|come back|write|contact|reach out|try|check in|follow up)\w* (to )?(me |us )?(again )?later|(next|"
        r"later this|after the) (year|season|month|quarter|summer|winter)|"
        r"(not|isn't|is not) (a good|the right) time|too busy (right now|at the moment)|renovat|"
        r"(melden|wenden|schreiben|kontaktieren) sie sich .{0,40}(noch einmal|nochmals|wieder|später)|"
        r"(nach|in) der (saison|nebensaison|hochsaison)|nächstes jahr|im (herbst|frühjahr|winter|sommer|januar|"
        r"februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember)|später (wieder|noch)|"
        r"renovier|umbau|"
        r"(recontactez|réécrivez|revenez vers)[- ](moi|nous)|après la (saison|haute saison)|l'année prochaine|"
        r"plus tard|en travaux|"
        r"(vuelva|escríbame|contácteme|contáctenos) .{0,30}(más adelante|después|en (otoño|invierno|primavera))|"
        r"después de la temporada|el año que viene|el próximo año|más adelante|en obras|reforma|"
        r"(ricontattar|riscriver|risentir)(mi|ci)|dopo la stagione|l'anno prossimo|più avanti|ristruttura|"
        r"(neem|neemt) .{0,30}(later|na het seizoen|volgend jaar) .{0,20}contact|na het seizoen|volgend jaar|"
        r"later (dit jaar|opnieuw)|verbouw|"
        r"(volte|contacte-me|escreva-me) .{0,30}(mais tarde|depois|no próximo)|depois da (época|temporada)|"
        r"próximo ano|mais tarde|em obras|remodela",
    ),
)

INTERESTED: Final = _rules(
    (
        "meeting_request",
        r"(video ?call|zoom|teams call|meeting|demo|call|chat|catch up)\b.{0,60}\?|when (are|would|could) you"
        r"( be)? (free|available)|let'?s (talk|schedule|set up|book|arrange|have a)|(book|schedule|set up|arrange) "
        r"(a|the) (call|demo|meeting)|happy to (talk|chat|meet|have a call)|"
        r"(telefonieren|videocall|videokonferenz|termin|gespräch|demo)\b.{0,60}\?|wann (hätten|haben|passt) "
        r"(sie|es)|gerne (einen termin|ein gespräch|telefonieren)|"
        r"(appel|visio|rendez-vous|démo|échange)\b.{0,60}\?|quand (seriez|êtes|pourriez)[- ]vous|"
        r"(llamada|videollamada|reunión|demo|demostración|hablar)\b.{0,60}\?|podemos hablar|"
        r"(talk|speak|chat)\b.{0,20}next week|cuándo (tendría|tiene|podría|estaría)|"
        r"(chiamata|videochiamata|incontro|demo)\b.{0,60}\?|possiamo (sentirci|parlar\w*)|podemos falar|"
        r"können wir (uns )?(kurz |nächste woche )?(telefonieren|sprechen|austauschen)|pouvons-nous (nous )?"
        r"(parler|appeler|échanger)|kunnen we (even |volgende week )?(bellen|praten|afspreken)|quando (avrebbe|ha|"
        r"potrebbe|sarebbe)|"
        r"(bellen|videogesprek|afspraak|gesprek|demo)\b.{0,60}\?|wanneer (heb|hebt|heeft|zou|bent)|"
        r"(chamada|videochamada|reunião|demonstração)\b.{0,60}\?|quando (teria|tem|poderia|estaria)",
    ),
    (
        "call_me",
        r"(call|ring|phone) me|give me a (call|ring)|my (mobile|number|phone)( number)? is|reach me (on|at)|"
        r"rufen sie mich|erreichen sie mich|meine (nummer|handynummer)|"
        r"appelez[- ]moi|(m'appeler|me joindre) au|llámeme|llámame|puede llamarme|mi (número|móvil)|"
        r"mi chiami|chiamatemi|può chiamarmi|il mio (numero|cellulare)|bel (mij|me)|mijn (nummer|mobiel)|"
        r"ligue-me|pode ligar-me|ligar para|o meu (número|telemóvel)",
    ),
    (
        "more_info",
        r"more (info|information|details)|tell me more|(senden|schicken) sie (mir|uns) (gern |gerne |bitte )?"
        r"(unterlagen|infos|informationen|material)|unterlagen|send (me|us) (some |more )?(info|details|a brochure|"
        r"a presentation|the deck)|(mehr|weitere) (informationen|infos|details|unterlagen)|schicken sie (mir|uns)|"
        r"plus d'(informations|infos|détails)|envoyez[- ](moi|nous)|más (información|info|detalles)|"
        r"(envíe|mánde)(me|nos)|più (informazioni|info|dettagli)|(mi|ci) (mandi|invii|inviate|mandate)|"
        r"meer (informatie|info|details)|stuur (mij|me|ons)|mais (informações|informação|detalhes)|"
        r"(envie|mande)-(me|nos)",
    ),
    (
        "positive",
        r"sounds (good|great|interesting|promising)|spannend|(very |quite )?interest(ed|ing)|good timing|"
        r"perfect timing|"
        r"exactly what we|looking for (something|a solution)|klingt (gut|interessant|spannend)|interessant|"
        r"genau (das|so etwas|was)|suchen (gerade|genau)|cela tombe bien|intéress(ant|é)|nous cherchons|"
        r"interesante|nos interesa|estamos buscando|interessante|ci interessa|stiamo cercando|"
        r"goede timing|zoeken (precies|net)|interessante|estamos (à procura|a procurar)|tenho interesse",
    ),
)

QUESTION: Final = _rules(
    (
        "pricing",
        r"\b(how much|price|pricing|cost|preis|kosten|kostet|prix|tarif|coût|precio|cuesta|coste|costo|"
        r"prezzo|costa|prijs|kost|preço|custa|custo)",
    ),
    (
        "integration",
        r"integrat|interface|schnittstelle|pms|opera|mews|protel|api\b|connect|anbindung|"
        r"intégr|integra|koppel|koppeling|integração",
    ),
    ("languages", r"language|sprache|langue|idioma|lingu|taal|talen"),
    (
        "data_protection",
        r"gdpr|dsgvo|rgpd|avg|privacy|data protection|datenschutz|where is .{0,30}(data|stored)|"
        r"données|datos|dati|gegevens|dados|hosted|gespeichert|stocké|almacena|conservat|opgeslagen|armazenad",
    ),
    ("trial", r"\b(trial|test(phase|zeitraum)?|essai|prueba|gratuit|gratis|free|kostenlos|prova|proef|teste|grátis)"),
    (
        "references",
        r"reference|referenz|référence|referencia|referenz|referenti|referentie|referência|"
        r"other hotels|andere hotels|autres hôtels|otros hoteles|altri hotel|andere hotels|outros hotéis",
    ),
)
_QUESTION_WORDS: Final = re.compile(
    r"\?|^\s*(how|what|which|where|who|when|why|does|do|is|are|can|could|wie|was|welche|wo|gibt es|kann|können|"
    r"comment|quel|quelle|où|est-ce|pouvez|cómo|qué|cuál|dónde|puede|pueden|tienen|come|quale|dove|può|"
    r"potete|avete|hoe|wat|welke|waar|kunt|kan|hebben|como|qual|onde|pode|podem|têm)\b",
    _FLAGS | re.MULTILINE,
)
_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Intent:
    """A category for a person's message, its detail and the rule that decided."""

    category: Category
    detail: str | None
    signals: tuple[str, ...]
    referral_address: str | None = None


def _first(rules: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> str | None:
    return next((detail for detail, pattern in rules if pattern.search(text)), None)


def unsubscribe_request(new_text: str, subject: str) -> str | None:
    """The detail of an unsubscribe request in the new text or the subject, or None."""
    subject_words = re.sub(r"^\s*((re|aw|sv|antw|r|rif|ref|fw|fwd|tr|wg)\s*:\s*)+", "", subject, flags=_FLAGS)
    return _first(UNSUBSCRIBE, new_text) or (_first(UNSUBSCRIBE[1:], subject_words) and "subject")


def referral_address(new_text: str, sender: str | None) -> str | None:
    """An address the person points us to (a colleague, a successor), other than their own."""
    own = (sender or "").lower()
    return next((a.lower() for a in _EMAIL.findall(new_text) if a.lower() != own), None)


def human_intent(new_text: str, subject: str, sender: str | None) -> Intent:
    """The intent of a person's reply about the offer, from the new text (and the subject when it is empty)."""
    text = new_text if new_text.strip() else subject
    if detail := _first(NOT_INTERESTED, text):
        return Intent("not_interested", detail, (f"not_interested:{detail}",))
    other = _first(OTHER, text)
    if other is not None:
        referral = referral_address(text, sender) if other == "referral" else None
        return Intent("other", other, (f"other:{other}",), referral)
    interested = _first(INTERESTED, text)
    if interested is not None and interested != "positive":
        return Intent("interested", interested, (f"interested:{interested}",))
    if _QUESTION_WORDS.search(text):
        topic = _first(QUESTION, text)
        if topic is not None or interested is None:
            return Intent("question", topic or "general", (f"question:{topic or 'general'}",))
    if interested is not None:
        return Intent("interested", interested, (f"interested:{interested}",))
    return Intent("other", None, ("no_rule",))
