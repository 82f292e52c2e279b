"""A problem found in the dataset, reported as `FILE:LINE: message` (the format editors and CI annotate)."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DatasetError(Exception):
    """Raised by the loader when the dataset does not validate; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"the dataset has {len(problems)} problem(s); run `python -m atlas validate`:\n{shown}{more}")
