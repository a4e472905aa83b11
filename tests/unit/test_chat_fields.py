"""A JSON-schema turn's answers compared field by field; answers that are not JSON flagged."""

from __future__ import annotations

from workbench.chat.fields import compare_fields, parse_answer


def test_fields_are_rows_and_agreement_counts_equal_values() -> None:
    table = compare_fields(
        [
            (0, '{"answer": 82, "unit": "none", "steps": {"tens": 70, "ones": 12}}'),
            (1, '{"answer": 82, "unit": "none", "steps": {"tens": 70, "ones": 12}}'),
            (2, '{"answer": 72, "unit": "none", "steps": {"tens": 60, "ones": 12}}'),
        ]
    )
    rows = {row.name: row for row in table.rows}
    assert list(rows) == ["answer", "unit", "steps.tens", "steps.ones"]  # first-seen order
    assert (rows["answer"].agreeing, rows["answer"].common) == (2, "82")
    assert rows["answer"].values == {0: "82", 1: "82", 2: "72"}
    assert rows["unit"].agreed and rows["steps.ones"].agreed and not rows["steps.tens"].agreed
    assert table.invalid == {} and table.valid == 3
    assert table.describe() == "4 fields · 2 agree across all 3 valid answers"


def test_an_answer_that_is_not_json_is_flagged_with_where_it_broke() -> None:
    table = compare_fields([(0, '{"answer": 82}'), (1, '{"answer": 8'), (2, "")])
    assert set(table.invalid) == {1, 2}
    assert ": line 1 column" in table.invalid[1]
    assert table.invalid[2] == "empty answer"
    assert table.rows[0].values == {0: "82"} and table.rows[0].agreed
    assert "sample 2: not JSON" in table.describe()
    markdown = "\n".join(table.markdown_lines())
    assert "| answer | 82 | — | — | 1/1 |" in markdown
    assert "Sample 3 is not valid JSON: empty answer" in markdown


def test_a_missing_field_is_not_agreement_and_a_list_compares_whole() -> None:
    table = compare_fields([(0, '{"a": [1, 2], "b": 1}'), (1, '{"a": [1, 2]}')])
    rows = {row.name: row for row in table.rows}
    assert rows["a"].agreed and rows["a"].common == "[1, 2]"
    assert rows["b"].values == {0: "1", 1: None} and not rows["b"].agreed


def test_json_that_is_not_an_object_is_not_a_structured_answer() -> None:
    assert parse_answer("[1, 2]") == (None, "a JSON list, not an object")
    assert parse_answer('"82"') == (None, "a JSON str, not an object")
