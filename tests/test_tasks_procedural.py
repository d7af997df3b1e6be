"""Procedural families: valid grids, one hidden program per task, determinism, hold-out by name,
hand-checked programs, online augmentation and the gallery."""

import numpy as np
import pytest

from lpn.grids import NUM_COLOURS
from lpn.report import render_gallery
from lpn.tasks import FAMILIES, make_family_task, online_augment, sample_tasks
from lpn.tasks.family import MIN_SIDE

NAMES = sorted(FAMILIES)


def same_task(a, b) -> bool:
    pairs_a, pairs_b = a.train + a.test, b.train + b.test
    return (
        a.name == b.name
        and len(pairs_a) == len(pairs_b)
        and all(np.array_equal(x, y) for p, q in zip(pairs_a, pairs_b) for x, y in zip(p, q))
    )


def g(text: str) -> np.ndarray:
    """A grid from rows of digits separated by spaces: g("01 20")."""
    return np.array([[int(c) for c in row] for row in text.split()], np.uint8)


def test_there_are_at_least_forty_families_each_described():
    assert len(FAMILIES) >= 40
    assert all(f.doc and f.name == name for name, f in FAMILIES.items())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("max_side", [MIN_SIDE, 30])
def test_family_makes_valid_tasks_from_one_hidden_program(name, max_side):
    family = FAMILIES[name]
    for seed in range(2):
        task = make_family_task(name, seed, num_pairs=4, num_test=2, max_side=max_side)
        assert (len(task.train), len(task.test)) == (4, 2)
        assert task.meta["family"] == name and task.meta["seed"] == seed
        for pair in task.train + task.test:
            for grid in pair:
                assert grid.dtype == np.uint8 and grid.ndim == 2
                assert 1 <= min(grid.shape) and max(grid.shape) <= max_side
                assert grid.max() < NUM_COLOURS
            # the task's recorded parameters explain every pair: one program for the whole task
            np.testing.assert_array_equal(family(pair.input, task.meta["params"]), pair.output)
            assert pair.input.shape != pair.output.shape or (pair.input != pair.output).any()
        inputs = [p.input.tobytes() + bytes(p.input.shape) for p in task.train + task.test]
        assert len(set(inputs)) == len(inputs)


@pytest.mark.parametrize("name", NAMES)
def test_family_is_deterministic_and_its_parameters_are_hidden(name):
    a, b = make_family_task(name, 11, max_side=10), make_family_task(name, 11, max_side=10)
    assert same_task(a, b)
    from_rng = make_family_task(name, np.random.default_rng(5), max_side=10)
    assert same_task(from_rng, make_family_task(name, from_rng.meta["seed"], max_side=10))
    # some other task of the family has parameters that would not explain this task's pairs
    family, differs = FAMILIES[name], False
    for seed in range(12):
        other = make_family_task(name, 100 + seed, max_side=10).meta["params"]
        for pair in a.train:
            try:
                differs |= not np.array_equal(family(pair.input, other), pair.output)
            except (ValueError, IndexError, KeyError, StopIteration):
                differs = True
    assert differs


def test_sample_tasks_is_deterministic_and_holds_families_out():
    a, b = sample_tasks(3, 30, max_side=10), sample_tasks(3, 30, max_side=10)
    assert all(same_task(x, y) for x, y in zip(a, b))
    held_out = {"gravity", "symmetry", "denoise"}
    tasks = sample_tasks(np.random.default_rng(0), 60, exclude=held_out, max_side=10)
    assert len(tasks) == 60 and not held_out & {t.meta["family"] for t in tasks}
    only = sample_tasks(1, 10, families=["gravity", "tile"], num_pairs=3, max_side=8)
    assert {t.meta["family"] for t in only} <= {"gravity", "tile"} and all(len(t.train) == 3 for t in only)
    assert all(max(gr.shape) <= 8 for t in only for p in t.train for gr in p)


def test_bad_requests_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown task family 'gravitty'"):
        sample_tasks(0, 2, exclude=["gravitty"])
    with pytest.raises(ValueError, match="no task families left"):
        sample_tasks(0, 2, families=["tile"], exclude=["tile"])
    with pytest.raises(ValueError, match="max_side"):
        make_family_task("tile", 0, max_side=MIN_SIDE - 1)


def test_online_augment_applies_one_invertible_augmentation_per_task():
    tasks = sample_tasks(0, 8, max_side=10)
    augmented = online_augment(tasks, 42)
    again = online_augment(tasks, 42)
    assert all(same_task(x, y) for x, y in zip(augmented, again))
    changed = 0
    for task, aug_task in zip(tasks, augmented):
        aug = aug_task.meta["augmentation"]
        assert aug_task.meta["family"] == task.meta["family"]
        for p, q in zip(task.train + task.test, aug_task.train + aug_task.test):
            np.testing.assert_array_equal(aug.invert(q.input), p.input)
            np.testing.assert_array_equal(aug.invert(q.output), p.output)
            changed += not np.array_equal(q.output, p.output)
    assert changed > 0


def test_gallery_writes_a_png_in_the_arc_palette(tmp_path):
    import matplotlib.image

    path = render_gallery("gravity", tmp_path / "gravity.png", n_tasks=2, seed=0, max_side=10)
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert (image[..., :3] == 0).all(axis=-1).any()  # ARC black cells are drawn


# Hand-checked programs: what each family's program does on a small grid.


def run(name, grid, **params):
    return FAMILIES[name](grid, params)


def test_gravity_falls_in_each_direction():
    grid = g("100 020 003")
    assert (run("gravity", grid, direction=0) == g("000 000 123")).all()
    assert (run("gravity", grid, direction=1) == g("100 200 300")).all()
    assert (run("gravity", grid, direction=2) == g("123 000 000")).all()
    assert (run("gravity", grid, direction=3) == g("001 002 003")).all()
    assert (run("gravity", g("10 20 00"), direction=0) == g("00 10 20")).all()


def test_symmetries_turns_and_mirrors():
    grid = g("12 34")
    assert (run("symmetry", grid, k=1) == g("24 13")).all()
    assert (run("symmetry", grid, k=2) == g("43 21")).all()
    assert (run("symmetry", grid, k=4) == g("13 24")).all()


def test_scaling_tiling_and_self_tiling():
    assert (run("scale_up", g("12"), k=2) == g("1122 1122")).all()
    assert (run("scale_down", g("1122 1122 3344 3344"), k=2) == g("12 34")).all()
    assert (run("tile", g("12"), down=2, across=2, mirror=True) == g("1221 1221")).all()
    assert (run("tile", g("1 2"), down=2, across=1, mirror=True) == g("1 2 2 1")).all()
    assert (run("self_tile", g("10 01"), invert=False) == g("1000 0100 0010 0001")).all()
    assert (run("self_tile", g("10 01"), invert=True) == g("0010 0001 1000 0100")).all()


def test_crops():
    assert (run("crop_object", g("555 512 555"), background=5) == g("12")).all()
    assert (run("crop_marked_region", g("33330 31230 33330"), frame=3) == g("12")).all()
    assert (run("crop_by_size", g("10022 00022 30000"), largest=True) == g("22 22")).all()
    assert (run("crop_by_size", g("10022 00022 00000"), largest=False) == g("1")).all()
    assert (run("half_select", g("1234"), half=3) == g("34")).all()


def test_lines_and_rays_from_pixels():
    grid = g("000 010 000")
    assert (run("lines_from_pixels", grid, steps=[(1, 0)]) == g("000 010 010")).all()
    assert (run("lines_from_pixels", grid, steps=[(0, -1), (0, 1)]) == g("000 111 000")).all()
    assert (run("diagonal_rays", grid, steps=[(-1, -1), (1, 1)]) == g("100 010 001")).all()
    pairs = g("20002 00000 30000 00000 30000")
    assert (run("connect_pairs", pairs, line=0) == g("22222 00000 30000 30000 30000")).all()
    assert (run("connect_pairs", pairs, line=8) == g("28882 00000 30000 80000 30000")).all()


def test_fills():
    ring = g("00000 02220 02020 02220 00000")
    assert (run("fill_enclosed", ring, colour=4) == g("00000 02220 02420 02220 00000")).all()
    open_ring = g("00000 02220 02000 02220 00000")
    assert (run("fill_enclosed", open_ring, colour=4) == open_ring).all()
    walls = g("0050 0050 3050 0050")
    assert (run("flood_fill", walls, seed=3, wall=5) == g("3350 3350 3350 3350")).all()
    assert (run("fill_bbox", g("10 01"), colour=7) == g("17 71")).all()
    assert (run("hollow_objects", g("222 222 222"), colour=0) == g("222 202 222")).all()
    assert (run("draw_border", g("000 000 000"), colour=6) == g("666 606 666")).all()


def test_object_programs():
    grid = g("1001 0001 0000 0110")  # sizes: 1, 2, 2 (the 8-connected pair on the right column)
    assert (run("recolour_by_size", grid, colour=1, by_size=[5, 6, 7, 8]) == g("5006 0006 0000 0660")).all()
    assert (run("remove_small", grid, min_size=2) == g("0001 0001 0000 0110")).all()
    assert (run("count_to_bar", grid, colour=4, vertical=False) == g("444")).all()
    assert (run("recolour_largest", g("1011 0011"), colour=1, target=3) == g("1033 0033")).all()
    assert (run("recolour_touching_border", g("000 010 000 200"), target=7) == g("000 010 000 700")).all()
    assert (run("outline_objects", g("000 010 000"), colour=3) == g("333 313 333")).all()
    assert (run("grow", g("000 010 000"), diagonal=False) == g("010 111 010")).all()
    assert (run("pixel_halo", g("000 010 000"), side=2, corner=0) == g("020 212 020")).all()


def test_motion_and_sorting():
    assert (run("move_to_wall", g("000 012 000"), direction=1) == g("000 120 000")).all()
    assert (run("move_to_wall", g("000 012 000"), direction=0) == g("000 000 012")).all()
    assert (run("sort_bars", g("010 011 111"), tallest_first=False) == g("001 011 111")).all()
    assert (run("sort_bars", g("000 020 123"), tallest_first=True) == g("000 200 213")).all()
    assert (run("shift_wrap", g("123"), rows=0, cols=1) == g("312")).all()


def test_colour_programs():
    lut = list(range(10))
    lut[1], lut[2] = 2, 5
    assert (run("colour_map", g("120 333"), lut=lut) == g("250 333")).all()
    assert (run("remove_colour", g("123"), colour=2) == g("103")).all()
    assert (run("keep_colour", g("123"), colour=2) == g("020")).all()
    assert (run("majority_colour", g("1222 0003"), size=2) == g("22 22")).all()
    assert (run("majority_line", g("1220 0030"), axis=0) == g("2222 3333")).all()
    assert (run("paint_from_header", g("102 000 555 050"), marker=5, axis=0) == g("102 000 152 050")).all()


def test_completion_programs():
    masked = g("1221 3443 1921")
    assert (run("mirror_complete", masked, symmetry=0, mask=9) == g("1221 3443 1221")).all()
    assert (run("symmetrize", g("12345"), axis=1, from_start=True) == g("12321")).all()
    assert (run("continue_pattern", g("1212000"), axis=1) == g("1212121")).all()
    assert (run("continue_pattern", g("1 2 1 2 0 0"), axis=0) == g("1 2 1 2 1 2")).all()
    assert (run("concat_mirror", g("12"), axis=1, mirror_first=False) == g("1221")).all()


def test_two_panel_programs():
    grid = g("10501 11511")
    assert (run("boolean_op", grid, op="xor", axis=1, colour=3, divider=5, a=1, b=1) == g("33 00")).all()
    assert (run("boolean_op", grid, op="and", axis=1, colour=3, divider=5, a=1, b=1) == g("00 33")).all()
    assert (run("boolean_op", grid, op="first_only", axis=1, colour=3, divider=5, a=1, b=1) == g("30 00")).all()
    assert (run("overlay_halves", g("20 55 03"), axis=0, first_on_top=True, divider=5) == g("23")).all()
    assert (run("denoise", g("1111 1911 1111"), noise=9) == g("1111 1111 1111")).all()
