"""The claims of each paper, one module a paper, each claim a small checked function.

Installed as ``dpomath.proofs``; the ledger imports every module here and each registers its
claims with :func:`dpomath.verify.ledger.claim`.
"""
