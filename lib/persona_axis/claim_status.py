"""The statuses a claim can have on the dashboard (``claims`` rates; ``claim_points`` rates chosen settings)."""

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced here"
INCONCLUSIVE = "inconclusive"
NOT_RUN = "not yet run"
NOT_APPLICABLE = "—"
NOT_RATED = "not rated"
#: The statuses a cell can have, in the order the dashboard counts them.
STATUSES = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)
