"""Code blocks are readable: every token color of both Pygments styles has at
least 4.5:1 contrast (WCAG AA for normal text) against the block's background."""

import pytest
from a11y_pygments.utils.wcag_contrast import contrast_ratio, hex_to_rgb01
from pygments.styles import get_style_by_name

import conf

AA_NORMAL_TEXT = 4.5


def rgb(color):
    # Pygments gives token colors without the "#", backgrounds with it.
    return hex_to_rgb01("#" + color.lstrip("#"))


def token_contrasts(style_name):
    style = get_style_by_name(style_name)
    for token, spec in style:
        if spec["color"]:
            background = spec["bgcolor"] or style.background_color
            yield str(token), contrast_ratio(rgb(spec["color"]), rgb(background))


@pytest.mark.parametrize("setting", ["pygments_style", "pygments_dark_style"])
def test_every_token_color_has_aa_contrast(setting):
    name = getattr(conf, setting)
    contrasts = dict(token_contrasts(name))
    assert contrasts, name
    failing = {t: round(c, 2) for t, c in contrasts.items() if c < AA_NORMAL_TEXT}
    assert failing == {}, name
