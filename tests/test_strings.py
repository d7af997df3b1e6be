"""The string task (paper §4.3): each rule family by hand, in-place left-to-right scans, programs
of 3-5 rules, and tasks as 1 x L grids."""

import numpy as np
import pytest

from lpn.tasks.strings import Rule, apply_program, apply_rule, sample_rule, sample_string_tasks


def check(seq, rule, expected):
    np.testing.assert_array_equal(apply_rule(np.array(seq), rule), expected)


def test_decrement_where_left_neighbour_reaches_threshold_seeing_updated_values():
    # position 2 sees the new 4 at position 1 (not the old 0), so it is decremented too
    check([3, 0, 1, 4], Rule("decrement", offset=-1, at_least=True, threshold=2), [3, 4, 0, 4])


def test_increment_where_right_neighbour_is_at_most_threshold():
    check([2, 0, 3, 1], Rule("increment", offset=1, at_least=False, threshold=1), [3, 0, 4, 1])


def test_subtract_neighbour_mod_5():
    check([2, 3, 4], Rule("subtract", offset=-1, at_least=True, threshold=1), [2, 1, 3])
    check([1, 3, 0], Rule("subtract", offset=1, at_least=True, threshold=2), [3, 3, 0])


def test_multiply_identical_neighbour_clipped_at_4():
    check([2, 2, 2, 1, 1], Rule("multiply", offset=-1, factor=3), [2, 4, 2, 1, 3])


def test_aggregate_of_neighbours_mod_5():
    check([1, 2, 3], Rule("aggregate", weights=(1, 2)), [0, 3, 1])


def test_missing_neighbour_never_passes_a_test():
    check([4, 4], Rule("increment", offset=-1, at_least=False, threshold=3), [4, 4])
    check([0, 0], Rule("increment", offset=1, at_least=False, threshold=3), [1, 0])


def test_program_applies_rules_in_order():
    a, b = Rule("increment", -1, False, 4), Rule("multiply", -1, factor=2)
    seq = np.array([1, 2, 2, 0])
    np.testing.assert_array_equal(apply_program(seq, [a, b]), apply_rule(apply_rule(seq, a), b))
    assert not np.array_equal(apply_program(seq, [a, b]), apply_program(seq, [b, a]))


def test_rule_space_has_62_variants_so_over_100m_programs():
    rng = np.random.default_rng(0)
    rules = {sample_rule(rng) for _ in range(6000)}
    assert len(rules) == 62
    assert {r.kind for r in rules} == {"decrement", "increment", "subtract", "multiply", "aggregate"}
    assert 62**3 + 62**4 + 62**5 > 100_000_000


def test_string_tasks_are_deterministic_valid_and_explained_by_their_program():
    tasks = sample_string_tasks(7, 20, length=12, num_pairs=4)
    again = sample_string_tasks(7, 20, length=12, num_pairs=4)
    for task, other in zip(tasks, again):
        assert task.meta["rules"] == other.meta["rules"]
        assert 3 <= len(task.meta["rules"]) <= 5
        assert len(task.train) == 4 and len(task.test) == 1
        changed = False
        for pair in task.train + task.test:
            assert pair.input.shape == pair.output.shape == (1, 12)
            assert pair.input.max() <= 4 and pair.output.max() <= 4
            np.testing.assert_array_equal(apply_program(pair.input[0], task.meta["rules"]), pair.output[0])
            changed |= not np.array_equal(pair.input, pair.output)
        assert changed
    assert len({tuple(t.meta["rules"]) for t in tasks}) > 15
    with pytest.raises(ValueError, match="length"):
        sample_string_tasks(0, 1, length=31)
