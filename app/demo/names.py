"""The demo warehouse's reference lists: names, places, wards, acts, drugs, tests, cohorts.

Static data the generator (``app.demo.population``) draws from. Nothing here
is about a real person. Repeated entries weight the uniform draws without a
bisect per draw; the order of every list is part of the build's determinism.
"""

from __future__ import annotations

import unicodedata


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_F = _words(
    "Camille Élodie Zoé Anaïs Maëlys Léa Chloé Manon Inès Jade Louise Emma Clémence Océane "
    "Mélanie Hélène Géraldine Bérénice Noémie Joséphine Françoise Thérèse Cécile Agnès "
    "Aurélie Sophie Nathalie Isabelle Sylvie Catherine Marie Anne-Sophie Marie-Claire "
    "Marie-Hélène Léonie Célia Sarah Yasmine Fatoumata Aïcha Nadia Amélie Valérie Delphine "
    "Pauline Margaux Lucie Juliette Romane Maëlle Gaëlle Héloïse Solène Ophélie Estelle "
    "Mireille Germaine Odette Christiane Monique Brigitte Danielle Véronique Laëtitia "
    "Nolwenn Anouk Lina Zélie Capucine Eugénie Laure Émilie"
)
FIRST_M = _words(
    "Jean-Baptiste François Lucas Hugo Théo Louis Gabriel Raphaël Noé Jules Arthur Léo "
    "Mathéo Maël Nathan Enzo Thomas Nicolas Julien Sébastien Stéphane Frédéric Jérôme "
    "Benoît Grégoire Rémi Amaury Loïc Gaël Yannick Hervé Pierre Jean Jean-Pierre Jean-Luc "
    "Jean-François Pierre-Yves Marc-Antoine Michel Philippe Alain Bernard Gérard René "
    "André Joël Noël Cédric Jérémy Aurélien Clément Étienne Émile Côme Anatole Bastien "
    "Quentin Maxime Antoine Karim Mehdi Youssef Mamadou Ibrahim Moussa Kévin Timothée "
    "Baptiste Adrien Valentin Olivier Thierry Pascal Didier Christophe Laurent Éric"
)
LAST = (
    *_words(
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André "
        "Lefebvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure "
        "Rousseau Blanc Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément "
        "Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer "
        "Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Pérez "
        "Marchand Dufour Blanchard Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez "
        "Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine "
        "Picard Gaillard Lacroix Fabre Dupuis Olivier Rodriguez Hubert Rivière Guillaume "
        "Rey Moulin Berger Lecomte Ménard Fleury Deschamps Carpentier Maillard Marchal "
        "Aubry Vasseur Renault Jacquet Prévost Poirier Charpentier Royer Huet Dupuy Carré "
        "Breton Rémy Schneider Perrot Guyot Barré Marty Cousin Lévêque Bélanger Castelli "
        "Santoni Pietri Leca Casanova Diallo Traoré Benali Haddad Bouzid Pham Tran "
        "Müller Öztürk Muñoz Œuvray Bœuf Nguyễn Dupont-Moreau Lefèvre-Dubois"
    ),
    "Le Goff",
    "Le Gall",
    "Le Roux",
    "Le Bihan",
    "Da Silva",
    "Ben Ahmed",
    "N'Diaye",
    "N'Guessan",
    "D'Almeida",
    "O'Neill",
    "De La Fontaine",
)

_SPECIAL_LETTERS = str.maketrans(
    {"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae", "ß": "ss", "ø": "o", "Ø": "O", "'": "", " ": ""}
)


def _ascii(name: str) -> str:
    """The name as people type it in an email address: no accents, apostrophes or spaces."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_SPECIAL_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


FIRST_F_ASCII = [_ascii(name) for name in FIRST_F]
FIRST_M_ASCII = [_ascii(name) for name in FIRST_M]
LAST_ASCII = [_ascii(name) for name in LAST]
# Reserved names (RFC 2606/6761): no mail can reach a real mailbox.
DOMAINS = (
    *["example.org"] * 4,
    *["example.net"] * 3,
    *["example.com"] * 3,
    "laposte.example",
    "orange.example",
    "free.example",
    "sfr.example",
)

# Metropolitan departments of birth, big ones repeated; 20 is absent since
# Corsica's numbers use 2A and 2B.
DEPARTMENTS = (
    *[f"{number:02d}" for number in range(1, 96) if number != 20],
    *["75"] * 6,
    *["13", "69", "59"] * 4,
    *["92", "93", "94", "33", "31", "67", "44", "35", "06", "62", "76", "34"] * 2,
    "2A",
    "2B",
)
# (department, number of communes): overseas numbers have a 3-digit
# department and a 2-digit commune.
OVERSEAS = (
    *[("971", 34)] * 3,
    *[("972", 34)] * 3,
    *[("973", 22)] * 2,
    *[("974", 24)] * 4,
    ("975", 2),
    ("976", 17),
)
# INSEE country codes for people born abroad (after "99").
COUNTRIES: tuple[str, ...] = (
    *("350", "350", "352", "352", "351", "139", "127", "134", "109", "131"),
    *("132", "140", "208", "341"),
)

HOSPITALS = (
    "CHU de Rennes",
    "CHU de Rennes — Hôpital Pontchaillou",
    "Hospices Civils de Lyon — Hôpital Édouard-Herriot",
    "Hospices Civils de Lyon — Hôpital de la Croix-Rousse",
    "AP-HP Hôpital Necker-Enfants malades",
    "AP-HP Hôpital de la Pitié-Salpêtrière",
    "AP-HP Hôpital européen Georges-Pompidou",
    "AP-HP Hôpital Bichat-Claude-Bernard",
    "AP-HM Hôpital de la Timone",
    "CHU de Bordeaux — Hôpital Pellegrin",
    "CHU de Lille — Hôpital Claude-Huriez",
    "CHU de Toulouse — Hôpital Purpan",
    "CHU de Nantes — Hôtel-Dieu",
    "Hôpitaux universitaires de Strasbourg",
    "CHU de Montpellier — Hôpital Lapeyronie",
    "CHU Grenoble Alpes",
    "CHU de Nice — Hôpital Pasteur",
    "CHU de Brest — Hôpital de la Cavale Blanche",
    "Centre hospitalier d'Ajaccio",
    "Centre hospitalier de Bastia",
    "CHU de la Guadeloupe",
    "CHU de la Réunion",
    "Centre hospitalier de Saint-Malo",
    "Centre hospitalier Annecy Genevois",
    "Hôpital Foch",
    "Institut Curie",
    "Gustave Roussy",
)

# ward -> diagnoses that make sense there (ICD-10 code, French label).
Ward = tuple[str, tuple[tuple[str, str], ...]]
WARDS: tuple[Ward, ...] = (
    (
        "Cardiologie",
        (
            ("I21.9", "Infarctus aigu du myocarde, sans précision"),
            ("I48.9", "Fibrillation auriculaire, sans précision"),
            ("I50.9", "Insuffisance cardiaque, sans précision"),
            ("I10", "Hypertension essentielle (primitive)"),
            ("I20.0", "Angine de poitrine instable"),
        ),
    ),
    (
        "Unité neurovasculaire",
        (
            ("I63.9", "Infarctus cérébral, sans précision"),
            ("G45.9", "Accident ischémique cérébral transitoire, sans précision"),
            ("I61.9", "Hémorragie intracérébrale, sans précision"),
        ),
    ),
    (
        "Neurologie",
        (
            ("G40.9", "Épilepsie, sans précision"),
            ("G43.9", "Migraine, sans précision"),
            ("G35", "Sclérose en plaques"),
            ("G20", "Maladie de Parkinson"),
        ),
    ),
    (
        "Pneumologie",
        (
            ("J18.9", "Pneumopathie, sans précision"),
            ("J44.1", "Maladie pulmonaire obstructive chronique avec épisodes aigus"),
            ("J45.9", "Asthme, sans précision"),
            ("U07.1", "COVID-19, virus identifié"),
        ),
    ),
    (
        "Chirurgie orthopédique",
        (
            ("S72.0", "Fracture du col du fémur"),
            ("M17.1", "Autres gonarthroses primaires"),
            ("M16.1", "Autres coxarthroses primaires"),
            ("S82.6", "Fracture de la malléole externe"),
        ),
    ),
    (
        "Chirurgie digestive",
        (
            ("K35.8", "Appendicite aiguë, autre et sans précision"),
            ("K80.2", "Calcul de la vésicule biliaire sans cholécystite"),
            ("K40.9", "Hernie inguinale unilatérale, sans occlusion ni gangrène"),
            ("C18.7", "Tumeur maligne du côlon sigmoïde"),
        ),
    ),
    (
        "Gynécologie-obstétrique",
        (
            ("O80", "Accouchement unique et spontané"),
            ("O82", "Accouchement unique par césarienne"),
            ("O24.4", "Diabète sucré survenant au cours de la grossesse"),
        ),
    ),
    (
        "Pédiatrie",
        (
            ("J21.9", "Bronchiolite aiguë, sans précision"),
            ("A08.0", "Entérite à rotavirus"),
            ("R56.0", "Convulsions fébriles"),
        ),
    ),
    (
        "Endocrinologie-diabétologie",
        (
            ("E11.9", "Diabète sucré de type 2, sans complication"),
            ("E10.9", "Diabète sucré de type 1, sans complication"),
            ("E05.0", "Thyréotoxicose avec goitre diffus"),
            ("E66.0", "Obésité due à un excès calorique"),
        ),
    ),
    (
        "Oncologie médicale",
        (
            ("C50.9", "Tumeur maligne du sein, sans précision"),
            ("C34.9", "Tumeur maligne des bronches ou du poumon, sans précision"),
            ("C61", "Tumeur maligne de la prostate"),
        ),
    ),
    (
        "Psychiatrie adulte",
        (
            ("F32.2", "Épisode dépressif sévère sans symptômes psychotiques"),
            ("F20.0", "Schizophrénie paranoïde"),
            ("F10.2", "Troubles liés à l'utilisation d'alcool : syndrome de dépendance"),
            ("F41.1", "Anxiété généralisée"),
        ),
    ),
    (
        "Néphrologie",
        (
            ("N18.5", "Maladie rénale chronique, stade 5"),
            ("N39.0", "Infection des voies urinaires, siège non précisé"),
            ("N20.0", "Calcul du rein"),
        ),
    ),
    (
        "Urgences",
        (
            ("R07.4", "Douleur thoracique, sans précision"),
            ("R55", "Syncope et collapsus"),
            ("S06.0", "Commotion cérébrale"),
            ("T78.4", "Allergie, sans précision"),
        ),
    ),
    (
        "Gériatrie",
        (
            ("R26.8", "Anomalies de la marche, autres et non précisées"),
            ("F03", "Démence, sans précision"),
            ("E86", "Hypovolémie"),
        ),
    ),
    (
        "Réanimation",
        (
            ("A41.9", "Sepsis, sans précision"),
            ("J96.0", "Insuffisance respiratoire aiguë"),
        ),
    ),
)

# Wards a patient can plausibly be admitted to: children go to paediatrics,
# men and women past 48 are not admitted to obstetrics.
CHILD_WARDS: tuple[Ward, ...] = tuple(w for w in WARDS if w[0] == "Pédiatrie")
WARDS_WITH_OBSTETRICS: tuple[Ward, ...] = tuple(w for w in WARDS if w[0] != "Pédiatrie")
WARDS_WITHOUT_OBSTETRICS: tuple[Ward, ...] = tuple(
    w for w in WARDS_WITH_OBSTETRICS if w[0] != "Gynécologie-obstétrique"
)

TRANSFUSION_PRODUCTS = (
    "Concentré de globules rouges (CGR)",
    "Concentré de globules rouges (CGR)",
    "Plasma frais congelé sécurisé (PFC-Se)",
    "Concentré de plaquettes d'aphérèse (CPA)",
    "Mélange de concentrés plaquettaires (MCP)",
)

# (act code, lowest, highest amount reimbursed in EUR).
ACTS: tuple[tuple[str, float, float], ...] = (
    *[("PHA", 1.5, 180.0)] * 8,
    *[("G", 18.0, 30.0)] * 5,
    *[("B", 3.8, 45.0)] * 3,
    ("C", 16.5, 26.5),
    ("CS", 19.0, 30.0),
    ("APC", 37.55, 56.5),
    ("V", 21.0, 35.0),
    ("K", 9.6, 120.0),
    ("AMI", 3.15, 25.0),
    ("AMK", 10.75, 32.0),
    ("DEQP003", 9.98, 14.26),
    ("ZBQK002", 14.9, 21.28),
    ("BFGA004", 190.19, 271.7),
)

SPECIALTIES = (
    "cardiologie",
    "neurologie",
    "pneumologie",
    "rhumatologie",
    "dermatologie",
    "gastro-entérologie",
    "endocrinologie",
    "psychiatrie",
    "ophtalmologie",
    "oto-rhino-laryngologie",
    "gynécologie",
    "pédiatrie",
    "oncologie",
    "néphrologie",
    "gériatrie",
)

SPECIALTIES_F = tuple(s for s in SPECIALTIES if s != "pédiatrie")
SPECIALTIES_M = tuple(s for s in SPECIALTIES_F if s != "gynécologie")

MOTIVES = (
    "une dyspnée d'effort d'aggravation récente",
    "des palpitations récidivantes",
    "des céphalées inhabituelles depuis un mois",
    "des douleurs articulaires inflammatoires",
    "un équilibre glycémique insuffisant malgré le traitement",
    "une lésion cutanée pigmentée qui s'est modifiée",
    "le suivi après son hospitalisation",
    "une toux persistante depuis trois semaines",
    "une perte de poids inexpliquée",
    "des troubles du sommeil et une fatigue persistante",
    "une baisse d'acuité visuelle",
    "une hypertension mal contrôlée",
)

LETTER_TEMPLATES = (
    "Cher confrère, je vous adresse {patient}, {age} ans, pour un avis en {specialty} "
    "concernant {motive}. Je vous remercie de votre aide. Bien confraternellement.",
    "Chère consœur, merci de bien vouloir recevoir {patient} ({age} ans) en consultation "
    "de {specialty} pour {motive}. Traitement en cours joint. Bien à vous.",
    "Objet : {motive}. {patient}, {age} ans, vous est adressé(e) pour avis en {specialty}. "
    "Examen clinique par ailleurs sans particularité.",
)

DOCUMENT_TYPES = (
    "Compte rendu d'hospitalisation",
    "Lettre de liaison de sortie",
    "Compte rendu opératoire",
    "Volet de synthèse médicale",
    "Compte rendu de consultation",
    "Compte rendu d'imagerie",
)

SUMMARIES = (
    "{document} : {motive}. Évolution favorable, traitement poursuivi.",
    "{document} : prise en charge pour {motive}. Surveillance par le médecin traitant.",
    "{document} : bilan réalisé pour {motive}. Pas d'argument pour une cause grave.",
    "{document} : {motive}. Rendez-vous de contrôle dans trois mois.",
)

# (drug with strength and form, usual directions).
DRUGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Paracétamol 1 g, comprimé",
        (
            "1 comprimé jusqu'à 3 fois par jour si douleur",
            "1 comprimé toutes les 6 heures pendant 5 jours",
        ),
    ),
    ("Amoxicilline 1 g, comprimé dispersible", ("1 comprimé matin et soir pendant 7 jours",)),
    ("Metformine 850 mg, comprimé", ("1 comprimé matin et soir au cours des repas",)),
    ("Ramipril 5 mg, comprimé", ("1 comprimé le matin",)),
    ("Atorvastatine 20 mg, comprimé", ("1 comprimé le soir",)),
    ("Lévothyroxine sodique 75 µg, comprimé", ("1 comprimé le matin à jeun",)),
    ("Oméprazole 20 mg, gélule", ("1 gélule le matin avant le repas pendant 4 semaines",)),
    ("Salbutamol 100 µg/dose, suspension pour inhalation", ("2 bouffées si gêne respiratoire",)),
    ("Ibuprofène 400 mg, comprimé", ("1 comprimé 3 fois par jour pendant 3 jours",)),
    ("Bisoprolol 2,5 mg, comprimé", ("1 comprimé le matin",)),
    ("Apixaban 5 mg, comprimé", ("1 comprimé matin et soir",)),
    ("Sertraline 50 mg, gélule", ("1 gélule le matin",)),
    ("Insuline glargine 100 U/mL, stylo prérempli", ("18 unités le soir", "24 unités le soir")),
    ("Amlodipine 5 mg, gélule", ("1 gélule le matin",)),
    ("Furosémide 40 mg, comprimé", ("1 comprimé le matin",)),
    ("Prednisolone 20 mg, comprimé orodispersible", ("2 comprimés le matin pendant 5 jours",)),
    ("Tramadol 50 mg, gélule", ("1 gélule toutes les 8 heures si douleur, 5 jours au plus",)),
    ("Méthotrexate 10 mg, comprimé", ("1 comprimé une fois par semaine, le lundi",)),
)

# (code, label, unit, low, high, format): values spread a little beyond the
# normal range so that some results look abnormal.
LAB_TESTS: tuple[tuple[str, str, str, float, float, str], ...] = (
    ("GLY", "Glycémie à jeun", "g/L", 0.70, 1.60, "%.2f"),
    ("HBA1C", "Hémoglobine glyquée (HbA1c)", "%", 4.8, 9.5, "%.1f"),
    ("CREA", "Créatinine", "µmol/L", 50.0, 140.0, "%.0f"),
    ("HB", "Hémoglobine", "g/dL", 10.5, 17.5, "%.1f"),
    ("PLQ", "Plaquettes", "G/L", 140.0, 420.0, "%.0f"),
    ("LEUCO", "Leucocytes", "G/L", 3.5, 12.0, "%.1f"),
    ("TSH", "TSH ultrasensible", "mUI/L", 0.3, 5.5, "%.2f"),
    ("CRP", "Protéine C réactive", "mg/L", 0.5, 80.0, "%.1f"),
    ("LDL", "Cholestérol LDL", "g/L", 0.6, 2.2, "%.2f"),
    ("NA", "Sodium", "mmol/L", 132.0, 146.0, "%.0f"),
    ("K", "Potassium", "mmol/L", 3.3, 5.4, "%.1f"),
    ("FERR", "Ferritine", "µg/L", 15.0, 400.0, "%.0f"),
    ("VITD", "25-OH vitamine D", "ng/mL", 8.0, 60.0, "%.0f"),
)

COHORTS = (
    "CONSTANCES",
    "CONSTANCES",
    "E3N",
    "EDS-AVC",
    "NutriNet-Santé",
    "ELFE",
    "EDS-COVID",
)
CHANNELS = ("email", "sms", "courrier")
OBJECTION_SCOPES = ("all_research", "all_research", *(f"cohort:{c}" for c in COHORTS[1:]))
