"""General English word lists the answerer shares, each defined once.

Every word list of question analysis and answering is defined here, once. Nothing here names
a topic of any corpus: these are closed classes of English (function words, auxiliaries,
pronouns, months), the vocabulary of news (titles, organisation and event heads) and families
of ordinary words that say the same thing, written out where word embeddings of single words
(MiniLM) rank them poorly ("premiere" sits nearer "filming" than "debut"). Each list says what
it is for; the code that uses it says how.
"""

from __future__ import annotations

import functools

import Stemmer


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball English stem ('fined' and 'fine', 'investing' and 'investment' agree)."""
    return _english_stemmer().stemWord(word)


@functools.cache
def _english_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


SCALE_WORDS = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "tn": 1e12,
    "trillion": 1e12,
}

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "dozen": 12,
}

# Ordinal words name the same number ("the fourth season" is "season 4", "the 4th season").
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

# Capitalised words that do not name anything on their own (sentence openers, pronouns).
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its he she his her they their them we our you your i
    in on at of for from to by with as and or but if so also both either neither however
    according after before since while when where who whom whose what which why how yes no
    not there here then thus meanwhile moreover overall instead still yet all some many
    most each other another such be is are was were will would can could should may might
    has have had do does did mr mrs ms dr prof sir see""".split()  # noqa: SIM905
)

OPENERS = frozenset(
    """additionally furthermore despite although though because besides nevertheless
    nonetheless similarly likewise finally first second third lastly today yesterday last
    next now recently earlier later currently previously eventually separately together
    past former current future previous early late
    analysts investors officials experts critics observers sources reports shares sales
    revenue profits customers users people company companies firm""".split()  # noqa: SIM905
)

STOPWORDS = FUNCTION_WORDS | frozenset(
    """about into over under than more less much very just only own same too up down out off
    again further once any few nor been being having doing am s t don now d ll m o re ve y
    per via upon among amid within without against between through during above below said
    says say tell told give gives make made get got use used one ones way ways""".split()  # noqa: SIM905
)

# Head nouns that make a longer name another organisation than the one inside it: the
# players' association of a league is not the league, a company's foundation is not the company.
ORGANISATION_HEADS = frozenset(
    """association associations union unions foundation foundations council institute
    federation confederation committee commission society academy club clubs fund trust
    players owners alliance coalition league leagues conference chamber board party""".split()  # noqa: SIM905
)

# Words that make a role another job when they precede it: a "video director" or an "art
# director" of a film is not its director, a "deputy editor" not its editor.
ROLE_QUALIFIERS = frozenset(
    """video music art casting creative assistant associate deputy stage photography
    technical design fashion marketing second-unit""".split()  # noqa: SIM905
)
# Titles of whoever heads an organisation: bodies name that office differently (a league's
# "commissioner", a Japanese company's "president", a board's "chairman"), so when no passage
# gives the asked one, another of these held of the same body answers "who is the X of Y".
HEAD_TITLES = frozenset(
    """president ceo chairman chairwoman chairperson commissioner""".split()  # noqa: SIM905
)
# Events held before or beside a named event, under its name: "the Draft Combine" is not "the
# Draft", "World Cup qualifiers" are not the World Cup.
EVENT_PARTS = frozenset(
    """combine lottery qualifier qualifiers qualifying qualification trials draw preview
    tour tryouts""".split()  # noqa: SIM905
)

# "a Harbour League team", "a Norvik Union confederation": one member or part of the named
# body, not the body.
MEMBER_NOUNS = (
    "team",
    "teams",
    "club",
    "clubs",
    "franchise",
    "affiliate",
    "subsidiary",
    "chapter",
    "foundation",
    "union",
    "association",
    "confederation",
    "federation",
    "players",
)

NOT_SERIES = frozenset(
    """jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june
    july august september october november december monday tuesday wednesday thursday friday
    saturday sunday""".split()  # noqa: SIM905
)

# Nouns that number kinds, not instalments: "type 1 diabetes" and "type 2" are both studied in
# one passage; retrieval does not demote a passage for naming another kind.
KIND_NOUNS = frozenset(
    "type class grade stage phase level group category kind form step tier".split()  # noqa: SIM905
)

PHRASE_ENDS = frozenset(
    "in on at of for to from and or with by who that which across than per a an the".split()  # noqa: SIM905
)

# Events, works and bodies that are named like people: "Masters Tournament", "World Cup
# Russia", "Board of Player Representatives", "Leading Role". None of them wins a contest.
# Events and works: held somewhere, not places themselves.
EVENT_NOUNS = frozenset(
    """tournament championship championships cup open games olympic olympics paralympic
    paralympics awards award prize
    trophy league series season episode film movie show festival conference summit""".split()  # noqa: SIM905
)

NAMED_LIKE_PEOPLE = EVENT_NOUNS | frozenset(
    """association union council committee board representatives federation foundation
    club team role actor actress picture feature stadium park hall theatre theater
    airport station hotel museum church river lake mountain street road avenue award awards
    prize prizes trophy medal oscar oscars emmy emmys grammy grammys""".split()  # noqa: SIM905
)

# Words that make a capitalised span an organisation, product or place rather than a person.
NOT_PERSON = (
    frozenset(
        """group holding holdings ltd inc corp co company bank cloud academy capital ventures
        fund funds financial post times news journal morning daily street market markets
        exchange administration ministry regulation state states government university
        institute center centre project festival pandemic quarter east west north south
        southeast northeast southwest northwest central middle new united kingdom republic
        island islands city county province valley asia africa europe america ai""".split()  # noqa: SIM905
    )
    | NAMED_LIKE_PEOPLE
    | frozenset(MONTHS)
    | frozenset(WEEKDAYS)
)

# Titles before or inside a name span ("Officer Mara Quist", "Acme Chief Technology").
TITLE_WORDS = frozenset(
    """chief officer executive minister president vice chairman chairwoman director ceo cto
    cfo technology founder spokesperson spokesman analyst secretary head manager senior
    general governor mayor premier professor""".split()  # noqa: SIM905
)

# Words after a measure that start a time or a comparison, not a noun the measure qualifies
# ("revenue last quarter", "the fine against Acme"; "revenue driver" names another thing).
AFTER_MEASURE = frozenset(
    "last this next previous past each every per according against versus so".split()  # noqa: SIM905
)

# Nouns ending in -s that name one thing ("which series", "what news"), not several.
SINGULAR_IN_S = frozenset("news series species means headquarters".split())  # noqa: SIM905

# Nouns that say what a person is, besides titles: "Mara Quist is a Norvik businesswoman".
ROLE_NOUNS = frozenset(
    """businessman businesswoman entrepreneur investor executive banker economist lawyer judge
    politician diplomat official actor actress singer musician rapper writer author novelist
    poet journalist reporter editor columnist producer filmmaker artist designer architect
    scientist researcher engineer developer inventor physician doctor surgeon athlete player
    coach footballer golfer cyclist billionaire philanthropist activist spokeswoman leader
    member partner owner cofounder co-founder commissioner ambassador senator lawmaker
    prosecutor employee worker student teacher nurse soldier""".split()  # noqa: SIM905
)

# Verbs of reporting: "what did Reuters report", "what did Acme say".
REPORTING_VERBS = frozenset(
    """report reported reports say said says write wrote writes announce announced announces
    claim claimed claims reveal revealed reveals state stated states tell told tells""".split()  # noqa: SIM905
)

# Counted nouns that any kind of person fills ("how many people": "100 researchers").
PEOPLE_WORDS = frozenset("people person persons individuals staff workers employees".split())  # noqa: SIM905

# What one organisation is to another ("who are Acme's rivals"): names of organisations
# answer, not only people's.
ORGANISATION_RELATIONS = frozenset(
    """rival rivals competitor competitors partner partners customer customers client clients
    supplier suppliers owner owners investor investors shareholder shareholders sponsor
    sponsors backer backers parent acquirer acquirers""".split()  # noqa: SIM905
)

# What one organisation does to or with another, as the verb of "who did Acme ... with/in":
# an organisation answers as well as a person ("Who did Acme partner with?").
ORGANISATION_VERBS = frozenset(
    """partner team ally merge compete invest acquire buy sue back sponsor supply fund
    license""".split()  # noqa: SIM905
)

# Past forms that do not end in -ed; a verb of a wh-question is one of these or ends in -ed.
IRREGULAR_PAST = frozenset(
    """won led made took became held beat wrote sang ran bought sold began gave built drew
    chose found fought hit lost paid put read rose set shot spent stood struck taught told
    threw wore""".split()  # noqa: SIM905
)

# Verbs that open a new clause between a title and a name: "Director Jo Park believed
# that Film ..." says what Jo Park thinks of Film, not that Jo Park directed it.
CLAUSE_VERBS = frozenset(
    """said says say believed believes thinks thought told called claimed argued noted added
    praised recalled is was are were has had""".split()  # noqa: SIM905
)

# Words that state a contest's result: a sentence about a contest without one (a list of the
# year's tournaments) does not say who won it.
RESULT_WORDS = frozenset(
    """won win wins winning winner winners champion champions title titles victory
    victor victorious beat beats defeated defeat defeats runner runners crowned claimed lifted
    finished placed clinched""".split()  # noqa: SIM905
)

SEASONS = frozenset("spring summer autumn fall winter".split())  # noqa: SIM905

# Adjective and demonym endings: "Chinese" is named by a passage on "China", "Israeli" by one on
# "Israel" (the passage word is the start of the question's word, less its ending).
DEMONYM_ENDINGS = ("an", "ese", "ish", "ian", "eli", "i", "n")

# Words that say how the question is put, not what it asks about.
META_WORDS = frozenset(
    """article articles report reports reported story piece news mention mentioned
    mentions connection according name named called figure describe described""".split()  # noqa: SIM905
)

# Verbs of a change in a figure: "how much did X fall" asks for the change (a share, "0.5%"),
# not the level it reached ("$42.10"). Stems, so every tense counts.
CHANGE_VERBS = frozenset(
    stem(w)
    for w in """rise rose risen fall fell fallen drop jump climb gain lose lost grow grew grown
    increase decrease decline surge slump plunge soar sink sank slip shrink shrank""".split()  # noqa: SIM905
)

# Adverbs of "how much", "how large": the form of the question.
HOW_ADVERBS = frozenset("much many large big long old far often high low".split())  # noqa: SIM905

# Nouns the answer type already stands for ("what year" is a date question).
TYPE_NOUNS: dict[str, frozenset[str]] = {
    "date": frozenset("year years date day month time".split()),  # noqa: SIM905
    "place": frozenset(
        """country countries city cities region regions place places nation nations location
        locations state continent""".split()  # noqa: SIM905
    ),
    "person": frozenset("person people official".split()),  # noqa: SIM905
    "count": frozenset("number".split()),  # noqa: SIM905
    "amount": frozenset("amount sum money".split()),  # noqa: SIM905
    "entity": frozenset("is was are were does did do kind type one thing".split()),  # noqa: SIM905
}

# Words that open a question or a request, not a name ("Tell", "Show", "Compare").
QUESTION_OPENERS = frozenset(
    """how much many what when where who whom whose which why is are was were will would can
    could do does did has have had should shall may might tell show give list explain
    describe summarize summarise compare name and also but i""".split()  # noqa: SIM905
)

PRONOUNS = frozenset(["it", "its", "they", "them", "their", "he", "him", "his", "she", "her"])

POSSESSIVES = frozenset(["its", "their", "his"])

# English question grammar (general words, no topic): wh-words open a question; an auxiliary
# inverted before the subject ("will Acme invest") is undone by topic_phrase.
WH_WORDS = frozenset("how much many what which who whom whose when where why".split())  # noqa: SIM905

BE_FORMS = frozenset("is are was were".split())  # noqa: SIM905

HAVE_FORMS = frozenset("has have had".split())  # noqa: SIM905

AUXILIARIES = (
    BE_FORMS
    | HAVE_FORMS
    | frozenset(
        "will would can could should shall may might must do does did".split()  # noqa: SIM905
    )
)

DETERMINERS = frozenset("the a an its their his her this that these those our your".split())  # noqa: SIM905

# A subject pronoun before a gerund takes its object form: "they say" -> "them saying".
OBJECT_FORMS = {"it": "it", "they": "them", "he": "him", "she": "her", "we": "us", "you": "you"}

# Words that end a noun phrase + verb ("the company invest | in ...").
PREPOSITIONS = frozenset(
    "of in on at for to from with about by into over under after before during across".split()  # noqa: SIM905
)

CONNECTOR_WORDS = frozenset("and also but so then what about how".split())  # noqa: SIM905


# Verbs (and their nouns) that state the same event of a thing. A sentence answers "when does
# it premiere" with any word of the premiere family, and states another event when it only
# has words of another family ("filming started in August"). Irregular forms are listed.
# Aspect verbs ("start", "end") are in no family: they qualify another event ("filming
# started", "start streaming"), they name none.
EVENT_FAMILIES: tuple[frozenset[str], ...] = tuple(
    frozenset(stem(w) for w in family.split())
    for family in (
        # A show premieres, a game or film is released: one event, the first showing.
        "premiere premiered premieres debut debuts debuted air airs aired airing broadcast"
        " release released releases launch launched launches arrive arrives arrived"
        " available stream streaming streams",
        "announce announced announces announcement unveil unveiled unveils reveal revealed"
        " reveals introduce introduced introduces present presented",
        "host hosts hosted held hold holds stage staged stages",
        "film filmed filming shoot shooting shot production produced",
        "direct directed directs director directors directing helm helmed",
        "win wins won winner winners winning champion champions victory",
        "star stars starred starring play plays played portray portrays portrayed cast",
        "write writes wrote written writer author authored",
        "found founded founder founders establish established",
        "die died dies death",
        "born birth",
        # What someone's work is about: "focus on X" is stated by "work on X", "the field of X".
        "focus focused focuses focusing concentrate concentrates concentrated work works worked"
        " working specialise specialises specialised specialize specializes specialized field"
        " fields area areas",
    )
)


def event_family(word: str) -> frozenset[str] | None:
    """The family of event words `word` belongs to (by stem), or None."""
    key = stem(word.casefold())
    for family in EVENT_FAMILIES:
        if key in family:
            return family
    return None


def states_event(verb: str, stems: set[str]) -> bool | None:
    """Whether words (their stems) state the event `verb` names.

    True: a word of its family; False: only words of other event families (another event);
    None: neither (the caller decides, e.g. by word embeddings).
    """
    family = event_family(verb)
    if family is None:
        return None
    if stems & family:
        return True
    if any(stems & other for other in EVENT_FAMILIES if other is not family):
        return False
    return None


__all__ = [
    "AFTER_MEASURE",
    "AUXILIARIES",
    "BE_FORMS",
    "CHANGE_VERBS",
    "CLAUSE_VERBS",
    "CONNECTOR_WORDS",
    "DEMONYM_ENDINGS",
    "DETERMINERS",
    "EVENT_FAMILIES",
    "EVENT_NOUNS",
    "EVENT_PARTS",
    "FUNCTION_WORDS",
    "HAVE_FORMS",
    "HEAD_TITLES",
    "HOW_ADVERBS",
    "IRREGULAR_PAST",
    "KIND_NOUNS",
    "MEMBER_NOUNS",
    "META_WORDS",
    "MONTHS",
    "NAMED_LIKE_PEOPLE",
    "NOT_PERSON",
    "NOT_SERIES",
    "NUMBER_WORDS",
    "OBJECT_FORMS",
    "OPENERS",
    "ORDINAL_WORDS",
    "ORGANISATION_HEADS",
    "ORGANISATION_RELATIONS",
    "ORGANISATION_VERBS",
    "PEOPLE_WORDS",
    "PHRASE_ENDS",
    "POSSESSIVES",
    "PREPOSITIONS",
    "PRONOUNS",
    "QUESTION_OPENERS",
    "REPORTING_VERBS",
    "RESULT_WORDS",
    "ROLE_NOUNS",
    "ROLE_QUALIFIERS",
    "SCALE_WORDS",
    "SEASONS",
    "SINGULAR_IN_S",
    "STOPWORDS",
    "TITLE_WORDS",
    "TYPE_NOUNS",
    "WEEKDAYS",
    "WH_WORDS",
    "event_family",
    "states_event",
    "stem",
]
