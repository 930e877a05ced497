"""The one validation shared by HTTP and gRPC: stock order, stock messages, new refusals."""

from __future__ import annotations

import json

import pytest
from kfp_viz_kernels import VisualizationType
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.validation import (
    printable,
    timeout_from_deadline,
    timeout_from_header,
    validate,
)


def check(type_name, source="src", arguments="{}", allow_custom=True):
    return validate(type_name, source, arguments, timeout=10.0, allow_custom=allow_custom)


def refusal(*args, **kwargs) -> RequestFailed:
    with pytest.raises(RequestFailed) as caught:
        check(*args, **kwargs)
    return caught.value


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_no_type_comes_first(missing):
    failure = refusal(missing, source=None, arguments="{not json")
    assert (failure.kind, failure.message) == (ErrorKind.INVALID, "No type provided.")


@pytest.mark.parametrize("text", ["{a", "", "[1,", "nul", '{"a": 1} x', "{'a': 1}"])
def test_invalid_json_carries_pythons_own_message(text):
    with pytest.raises(json.JSONDecodeError) as python:
        json.loads(text)
    failure = refusal("test", source=None, arguments=text)
    assert failure.message == f"Invalid JSON provided as arguments: {python.value}"


def test_stock_example_message():
    failure = refusal("table", arguments="{a")
    assert failure.message == (
        "Invalid JSON provided as arguments: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


@pytest.mark.parametrize("text", ["[]", "1", '"{}"', "null", "true"])
def test_json_that_is_not_an_object(text):
    failure = refusal("test", source=None, arguments=text)
    assert failure.message == "Invalid JSON provided as arguments!"


def test_missing_arguments_means_empty_object():
    assert check("test", arguments=None).variables == {}


@pytest.mark.parametrize("source", [None, "", "  \t "])
def test_no_source_before_type_lookup(source):
    failure = refusal("../server", source=source)
    assert failure.message == "No source provided."


def test_custom_needs_no_source():
    request = check("custom", source=None, arguments='{"code": ["1"]}')
    assert request.source == "" and request.type.is_custom


@pytest.mark.parametrize("name", ["../server", "types/test", "TEST", "test.py", "os", "__init__"])
def test_unknown_types_never_become_paths(name):
    failure = refusal(name)
    assert failure.kind is ErrorKind.INVALID
    assert failure.message == f"Unknown visualization type: {name}"


def test_unknown_type_is_echoed_safely():
    failure = refusal("<script>\r\nX: y" + "z" * 100)
    assert "<" not in failure.message and "\r" not in failure.message
    assert failure.message.isascii() and len(failure.message) < 120


def test_custom_switched_off_says_how_to_switch_it_on():
    failure = refusal("custom", arguments='{"code": ["1"]}', allow_custom=False)
    assert failure.kind is ErrorKind.FORBIDDEN
    assert "ALLOW_CUSTOM_VISUALIZATIONS=true" in failure.message


def test_target_lambda_is_code_too():
    arguments = '{"target_lambda": "lambda x: 1"}'
    failure = refusal("roc_curve", arguments=arguments, allow_custom=False)
    assert failure.kind is ErrorKind.FORBIDDEN and "target_lambda" in failure.message


@pytest.mark.parametrize("code", ['"print(1)"', "[1, 2]", "null", '{"a": 1}'])
def test_custom_code_must_be_a_list_of_lines(code):
    failure = refusal("custom", arguments=f'{{"code": {code}}}')
    assert failure.kind is ErrorKind.INVALID and '"code"' in failure.message


def test_registered_but_missing_types_are_not_implemented(monkeypatch):
    missing = VisualizationType(name="tfdv", module="kernels.types.absent", implemented=False)
    monkeypatch.setattr("kfp_viz_server.validation.lookup", {"tfdv": missing}.get)
    failure = refusal("tfdv")
    assert failure.kind is ErrorKind.NOT_IMPLEMENTED and "tfdv" in failure.message


def test_every_stock_and_extra_type_is_implemented():
    for name in ("roc_curve", "tfdv", "tfma", "table", "test"):
        assert check(name).type.implemented
    for name in ("confusion_matrix", "markdown", "metrics", "html"):
        assert check(name).type.implemented


def test_valid_request_keeps_data_as_data():
    source = 'a"b\'c"""\\n\n'
    request = check("test", source=source, arguments='{"x": "\\"\\"\\""}')
    assert request.source == source.strip()
    assert request.variables == {"x": '"""'}
    assert request.timeout == 10.0


@pytest.mark.parametrize(
    ("header", "expected"), [(None, 100.0), ("", 100.0), ("2.5", 2.5), ("9999", 600.0)]
)
def test_timeout_header(header, expected):
    assert timeout_from_header(header, default=100.0, maximum=600.0) == expected


@pytest.mark.parametrize("header", ["abc", "0", "-1", "nan", "inf", "1e999"])
def test_bad_timeout_header(header):
    with pytest.raises(RequestFailed) as caught:
        timeout_from_header(header, default=100.0, maximum=600.0)
    assert "X-Visualization-Timeout" in caught.value.message


def test_deadline_is_capped():
    assert timeout_from_deadline(None, default=100.0, maximum=600.0) == 100.0
    assert timeout_from_deadline(3.0, default=100.0, maximum=600.0) == 3.0
    assert timeout_from_deadline(1e6, default=100.0, maximum=600.0) == 600.0


def test_printable():
    assert printable("roc_curve") == "roc_curve"
    assert printable("é\n<") == "\\xe9\\x0a\\x3c"


def test_arguments_any_kernel_could_not_take_are_refused_with_the_reason():
    from kfp_viz_server.validation import MAX_VALUES, json_problem, too_many_values

    assert json_problem({"a": [[[1]]]}) is None
    assert json_problem({"a": "\ud800"}) == (
        "a string holds the lone surrogate \\ud800, which is not Unicode text (a UTF-16 "
        "escape without its pair)"
    )
    deep: list = []
    for _ in range(150):
        deep = [deep]
    assert json_problem(deep) == "nested deeper than 100 levels"
    assert not too_many_values("[1,2]") and not too_many_values("[" + "1," * 499 + "1]", 1000)
    text = "[" + "{}," * MAX_VALUES + "{}]"
    assert too_many_values(text) and too_many_values(text.encode())
    for arguments, why in (
        ("[" * 100_000, "nested deeper than 100 levels"),
        ('{"a": "\\udfff"}', json_problem("\udfff")),
        (text, f"too large to parse: more than {MAX_VALUES} values"),
    ):
        with pytest.raises(RequestFailed) as refused:
            validate("test", "s", arguments, timeout=1, allow_custom=False)
        assert refused.value.message == f"Invalid JSON provided as arguments: {why}"


def test_custom_without_code_is_valid():
    request = validate("custom", "", "{}", timeout=1, allow_custom=True)
    assert request.type.is_custom and "code" not in request.variables
    with pytest.raises(RequestFailed, match="a list of lines"):
        validate("custom", "", '{"code": "print(1)"}', timeout=1, allow_custom=True)
