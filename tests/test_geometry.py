"""sim.geometry.within against measuring every pair: the same pairs, in the same order, with the same float distances."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import geometry
from sim.geometry import within


def every_pair(points, targets, radius):
    """The oracle: the full distance matrix, as the model computed it before (points x targets)."""
    distance = np.hypot(points[:, None, 0] - targets[None, :, 0], points[:, None, 1] - targets[None, :, 1])
    point, target = np.nonzero(distance <= radius)
    return point, target, distance[point, target]


def assert_same(points, targets, radius):
    near = within(points, targets, radius)
    point, target, distance = every_pair(points, targets, radius)
    np.testing.assert_array_equal(near.point, point)
    np.testing.assert_array_equal(near.target, target)
    assert near.distance.tobytes() == distance.tobytes()  # bit for bit, not approximately
    for i in range(len(points)):
        mine, far = near.of(i)
        np.testing.assert_array_equal(mine, target[point == i])
        assert far.tobytes() == distance[point == i].tobytes()


COORDINATE = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
POSITIONS = st.lists(st.tuples(COORDINATE, COORDINATE), max_size=30).map(lambda xy: np.array(xy, dtype=float).reshape(-1, 2))


@settings(max_examples=60, deadline=None)
@given(points=POSITIONS, targets=POSITIONS, radius=st.floats(0.01, 80))
def test_the_same_pairs_as_measuring_every_pair(points, targets, radius):
    assert_same(points, targets, radius)


def test_pairs_exactly_at_the_radius_are_near():
    """Integer points 3-4-5 apart sit exactly on the radius (and on cell edges): each is found, once."""
    grid = np.array([(x, y) for x in range(-10, 11) for y in range(-10, 11)], dtype=float)
    assert_same(grid[::7], grid, 5.0)
    assert_same(grid, grid, 1.0)


def test_a_county_sized_map():
    """Villages and enterprises over a Shouguang-like map (2,180 km2), the hiring and hosting radii."""
    rng = np.random.default_rng(3)
    villages, enterprises = rng.uniform(0, 46.7, (975, 2)), rng.uniform(0, 46.7, (400, 2))
    for radius in (5.0, 15.0):
        assert_same(enterprises, villages, radius)


def test_empty_inputs_and_a_bad_radius():
    none = within(np.empty((0, 2)), np.ones((3, 2)), 1.0)
    assert none.start.tolist() == [0] and none.target.size == 0
    alone = within(np.ones((2, 2)), np.empty((0, 2)), 1.0)
    assert alone.start.tolist() == [0, 0, 0] and alone.point.size == 0
    for radius in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="radius must be a positive number"):
            within(np.ones((1, 2)), np.ones((1, 2)), radius)


def test_doctests():
    result = doctest.testmod(geometry)
    assert result.attempted > 0 and result.failed == 0
