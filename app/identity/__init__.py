"""Who the requester is, and how sure the portal is of it (identity assurance).

Name, birth date and social-security number locate records; they prove
nothing, since they are printed on the carte Vitale and known to family and
employers. The emailed link proves control of an address. Each request
carries the **assurance level** it reached (``Request.assurance``), and the
assurance policy (``catalogue/assurance.toml``, ``policy``) says which levels
let its plan be shown and let it be approved and carried out.

``addresses`` compares email addresses; ``policy`` reads the policy file;
``assurance`` raises a request's level and moves it on; ``contact`` compares
the proven address with the one on file and handles the "this was not me"
notice to the person on file.
"""
