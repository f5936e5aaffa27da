"""A cheap real workload for the harness's reliability tests: pure-Python arithmetic timed by the
real worker in real forked processes, so one measured run takes a fraction of a second."""


def make_model():
    def predict(numbers: list[int]) -> int:
        return sum(n * n for n in numbers)

    return predict


def make_inputs(size: int, seed: int) -> list[int]:
    return list(range(seed, seed + 200 * size))
