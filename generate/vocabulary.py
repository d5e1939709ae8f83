"""The words generated records are made of: names, places, phone ranges and formats, products.

None of it comes from a real feed: e-mail domains are the reserved example ones and UK phone
numbers are in Ofcom's drama ranges, so no generated contact belongs to anybody.
"""

FIRST_NAMES = (
    "James", "Olivia", "Liam", "Aoife", "Sean", "Niamh", "Emma", "Jack", "Ciara", "Thomas",
    "Sophie", "Conor", "Grace", "Oliver", "Amelia", "Harry", "Isla", "Darragh", "Chloe", "George",
    "Ella", "Patrick", "Mia", "Daniel", "Lucy", "Cian", "Hannah", "Noah", "Ruby", "Eoin", "Freya",
    "Ryan", "Julie-Anne", "Mary-Kate", "Siobhan", "Oisin", "Margaret", "Peter", "Helen", "David",
    "Sarah", "Michael", "Laura", "Paul", "Fiona", "Declan", "Rachel", "Gareth", "Bronagh", "Aled",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Wilson", "Roberts",
    "Murphy", "Kelly", "O'Sullivan", "Walsh", "O'Brien", "Byrne", "Ryan", "O'Connor", "McCarthy",
    "Doyle", "Gallagher", "Campbell", "Stewart", "MacDonald", "Hughes", "Patel", "Khan", "Clarke",
    "Lewis", "Walker", "Robinson", "Wright", "Thompson", "White", "Hall", "Green", "Wood",
    "Harris", "Martin", "Jackson", "Fitzgerald", "Quinn", "Nolan", "Price", "Morgan", "Lloyd",
)  # fmt: skip
STREETS = (
    "High", "Station", "Church", "Mill", "Park", "Victoria", "Green", "Manor", "Kings", "Queens",
    "Grange", "Meadow", "Oak", "Willow", "Castle", "Bridge", "Chapel", "Main", "New", "School",
    "Harbour", "Abbey", "Orchard", "Riverside", "Elm",
)  # fmt: skip
STREET_TYPES = (
    "Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Terrace",
    "Gardens", "Place", "Court", "Hill", "Row",
)  # fmt: skip
HOUSE_NAMES = ("Rose Cottage", "The Old Rectory", "Ivy House", "Hillcrest", "The Willows")
UK_PLACES = (
    ("London", ("SW", "SE", "E", "N", "NW", "W", "EC", "WC")), ("Birmingham", ("B",)),
    ("Manchester", ("M",)), ("Liverpool", ("L",)), ("Leeds", ("LS",)), ("Sheffield", ("S",)),
    ("Glasgow", ("G",)), ("Edinburgh", ("EH",)), ("Cardiff", ("CF",)), ("Belfast", ("BT",)),
    ("Newcastle upon Tyne", ("NE",)), ("Bristol", ("BS",)), ("Oxford", ("OX",)),
    ("Cambridge", ("CB",)), ("Nottingham", ("NG",)), ("Leicester", ("LE",)), ("York", ("YO",)),
    ("Aberdeen", ("AB",)), ("Plymouth", ("PL",)), ("Swansea", ("SA",)),
)  # fmt: skip
IE_PLACES = (
    ("Dublin", (*(f"D{n:02d}" for n in range(1, 25)), "D6W")), ("Cork", ("T12", "T23")),
    ("Galway", ("H91",)), ("Limerick", ("V94",)), ("Waterford", ("X91",)),
    ("Kilkenny", ("R95",)), ("Athlone", ("N37",)), ("Sligo", ("F91",)), ("Drogheda", ("A92",)),
    ("Wexford", ("Y35",)), ("Tralee", ("V92",)),
)  # fmt: skip
UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
EIRCODE_CHARS = "0123456789ACDEFHKNPRTVWXY"
UK_COUNTRY = "United Kingdom"
IE_COUNTRY = "Republic of Ireland"
# Ofcom's drama ranges, so no generated UK number belongs to anybody: (area, subscriber prefix).
UK_NUMBERS = (
    ("113", "4960"), ("114", "4960"), ("115", "4960"), ("116", "4960"), ("117", "4960"),
    ("118", "4960"), ("121", "4960"), ("131", "4960"), ("141", "4960"), ("151", "4960"),
    ("161", "4960"), ("191", "4980"), ("20", "79460"), ("808", "1570"), ("7700", "900"),
    ("1632", "960"),
)  # fmt: skip
IE_NUMBERS = (("1", ""), ("21", ""), ("91", ""), ("85", ""), ("87", ""))
TRUNK_FORMATS = (
    "0{a} {s}", "0{a} {r}", "(0{a}) {s}", "(0{a}) {r}", "(0{a}){r}", "0{a}{r}",
    "+{cc}{a} {s}", "+{cc}{a} {r}", "+{cc}(0){a} {s}", "+{cc}(0){a} {r}", "+{cc}(0){a}{r}",
    "+{cc}{a}{r}", "+{cc} {a} {s}",
)  # fmt: skip
US_FORMATS = (
    "{a}.{e}.{n}", "({a}){e}-{n}", "{a}-{e}-{n}", "001-{a}-{e}-{n}", "+1-{a}-{e}-{n}",
    "({a}) {e}-{n}",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
SEGMENTS = (None, "health", "sports", "beauty")
SEGMENT_WEIGHTS = (43, 33, 14, 10)
CATEGORIES = ("vitamin", "beauty", "sports", "misc", "food")
CATEGORY_WEIGHTS = (47, 20, 20, 8, 5)
PRODUCT_WORDS = {
    "vitamin": (
        ("Vitamin C", "Vitamin D3", "Omega-3", "Multivitamin", "Zinc", "Magnesium", "Iron",
         "Biotin", "Vitamin B12", "Probiotic", "Folic Acid", "Calcium"),
        ("Tablets", "Capsules", "Gummies", "Softgels", "Drops", "Effervescent"),
    ),
    "beauty": (
        ("Hydrating", "Gentle", "Brightening", "Overnight", "Daily", "Soothing", "Argan"),
        ("Face Cream", "Serum", "Cleanser", "Lip Balm", "Shampoo", "Body Lotion", "Hand Cream"),
    ),
    "sports": (
        ("Whey Protein", "Energy Gel", "Creatine", "Electrolyte Tabs", "Protein Bar", "BCAA"),
        ("Chocolate", "Vanilla", "Berry", "Lemon", "Unflavoured", "Salted Caramel"),
    ),
    "misc": (
        ("Pill Organiser", "Gift Card", "Travel Bag", "Water Bottle", "Hot Water Bottle"),
        ("Small", "Large", "Blue", "Green", "Classic"),
    ),
    "food": (
        ("Oat", "Almond", "Granola", "Peanut Butter", "Green Tea", "Dark Chocolate", "Honey"),
        ("Bites", "Clusters", "Spread", "Bar", "Mix"),
    ),
}  # fmt: skip
