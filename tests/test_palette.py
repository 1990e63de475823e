"""Statuses are never told by colour alone, and their colours stay apart for the common
colour-vision deficiencies: each colour simulated with the Machado, Oliveira & Fernandes
(2009) matrices at severity 1.0, then compared in CIELAB (CIE76 distance)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kpi_logic import charts, score

# Machado et al. 2009, "A Physiologically-based Model for Simulation of Color Vision
# Deficiency", severity 1.0, applied to linear RGB
MACHADO = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}
SRGB_TO_XYZ = [
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
]
D65 = [0.95047, 1.0, 1.08883]
MIN_DISTANCE = 15.0  # CIE76; about 2.3 is a just-noticeable difference


def linear_rgb(hex_color: str) -> np.ndarray:
    c = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    xyz = np.array(SRGB_TO_XYZ) @ linear / np.array(D65)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen(hex_color: str, deficiency: str | None) -> np.ndarray:
    rgb = linear_rgb(hex_color)
    if deficiency:
        rgb = np.clip(np.array(MACHADO[deficiency]) @ rgb, 0, 1)
    return lab(rgb)


def test_lab_conversion_reference_points() -> None:
    assert seen("#ffffff", None) == pytest.approx([100, 0, 0], abs=0.01)
    assert seen("#ff0000", None) == pytest.approx([53.24, 80.09, 67.20], abs=0.05)
    # a dichromat cannot tell pure red from a dull yellow-green: the simulation must show it
    red, green = seen("#ff0000", "deuteranopia"), seen("#00ff00", "deuteranopia")
    assert np.linalg.norm(red - green) < np.linalg.norm(
        seen("#ff0000", None) - seen("#00ff00", None)
    )


@pytest.mark.parametrize("deficiency", [None, "protanopia", "deuteranopia", "tritanopia"])
def test_status_colours_stay_apart(deficiency: str | None) -> None:
    colours = charts.STATUS_COLORS
    for (a, ca), (b, cb) in itertools.combinations(colours.items(), 2):
        distance = float(np.linalg.norm(seen(ca, deficiency) - seen(cb, deficiency)))
        assert distance >= MIN_DISTANCE, (deficiency, a, b, round(distance, 1))


def test_every_status_has_its_own_shape_and_symbol() -> None:
    assert set(charts.STATUS_SHAPES) == set(score.STATUSES)
    assert len(set(charts.STATUS_SHAPES.values())) == len(score.STATUSES)
    symbols = [score.STATUS_SYMBOLS[s] for s in score.STATUSES]
    assert len(set(symbols)) == len(symbols)
    assert all(symbols)
    assert set(score.PACE_STATUSES) <= set(score.STATUS_SYMBOLS)
