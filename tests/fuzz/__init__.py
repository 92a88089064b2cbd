"""Bad-input fuzzing with hypothesis (issue 9): the CSV importer, the inbound webhooks and the
targeting schema get arbitrary and malformed input; every refusal is a 4xx or an error message
in words, never a 500 and never a partial write.

Every test uses `fuzz_settings`: derandomized (the same examples on every run, so CI is
reproducible) and without deadlines (the machine may be loaded; speed is not what is tested).
"""

from hypothesis import HealthCheck, Phase, settings


def fuzz_settings(max_examples: int):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: a failure is reported with the example that found it, at once. Shrinking
        # one on a loaded 2-core machine can take longer than the test's time limit.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        # The database fixtures are function-scoped on purpose: every example of a test shares
        # one transaction, and each example asserts on row counts before and after itself.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
