"""Unit tests of the {{ slice }} domain: no framework, no database."""

import pytest

from {{ package }}.{{ slice }}.domain import {{ Slice }}


def test_a_new_{{ slice }}_is_open_with_its_title_trimmed():
    {{ slice }} = {{ Slice }}.open("  write the tests first ")
    assert ({{ slice }}.title, {{ slice }}.done) == ("write the tests first", False)


def test_completing_keeps_the_identity():
    {{ slice }} = {{ Slice }}.open("ship it")
    assert {{ slice }}.complete() == {{ Slice }}({{ slice }}.id, "ship it", True)


def test_a_blank_title_is_refused():
    with pytest.raises(ValueError):
        {{ Slice }}.open(" ")
