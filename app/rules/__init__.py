"""What the warehouse holds and what each right does to it.

The catalogue of sources, the policy, reading the sources, matching a person, routing.
"""
