"""Settings: flags beat environment beat defaults; bad values are named precisely."""

from __future__ import annotations

import dataclasses
import re

import pytest
from kfp_viz_server.config import (
    GROUPS,
    SETTINGS,
    Config,
    ConfigError,
    build_parser,
    kernel_connect_ports,
    kernel_environment,
    load_config,
    parse_bytes,
    settings_markdown,
    settings_of,
)


def test_defaults_match_the_documented_table():
    config = load_config([], {})
    assert (config.http_port, config.grpc_port) == (8888, 8887)
    assert config.pool_size >= 2
    assert config.max_queue == 4 * config.pool_size
    assert config.timeout == 100.0
    assert config.kernel_memory_limit == 2 * 10**9
    assert config.allow_custom is False
    assert config.max_body_size == 32 * 2**20


def test_environment_names_users_type():
    env = {
        "VIZ_HTTP_PORT": "9000",
        "VIZ_GRPC_PORT": "9001",
        "KERNEL_POOL_SIZE": "3",
        "MAX_QUEUE": "5",
        "KERNEL_TIMEOUT": "12",
        "KERNEL_MEMORY_LIMIT": "1G",
        "ALLOW_CUSTOM_VISUALIZATIONS": "True",
    }
    config = load_config([], env)
    assert (config.http_port, config.grpc_port, config.pool_size) == (9000, 9001, 3)
    assert (config.max_queue, config.timeout, config.kernel_memory_limit) == (5, 12.0, 10**9)
    assert config.allow_custom is True


def test_flags_override_environment():
    config = load_config(
        ["--pool-size", "4", "--no-allow-custom-visualizations"],
        {"KERNEL_POOL_SIZE": "3", "ALLOW_CUSTOM_VISUALIZATIONS": "true"},
    )
    assert config.pool_size == 4 and config.allow_custom is False
    assert config.max_queue == 16  # derived from the resolved pool size


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KERNEL_POOL_SIZE": "0"}, "KERNEL_POOL_SIZE"),
        ({"KERNEL_POOL_SIZE": "two"}, "--pool-size"),
        ({"VIZ_HTTP_PORT": "70000"}, "VIZ_HTTP_PORT"),
        ({"KERNEL_TIMEOUT": "-5"}, "KERNEL_TIMEOUT"),
        ({"KERNEL_MEMORY_LIMIT": "lots"}, "KERNEL_MEMORY_LIMIT"),
        ({"ALLOW_CUSTOM_VISUALIZATIONS": "maybe"}, "ALLOW_CUSTOM_VISUALIZATIONS"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"SOURCE_SCHEMES": "local,ftp"}, "SOURCE_SCHEMES"),
        ({"LOCAL_SOURCE_ROOTS": "/data,relative"}, "LOCAL_SOURCE_ROOTS"),
    ],
)
def test_bad_values_name_the_setting_and_the_value(env, named):
    with pytest.raises(ConfigError) as caught:
        load_config([], env)
    message = str(caught.value)
    assert named in message
    assert repr(next(iter(env.values()))) in message


def test_kernels_get_the_source_limits_whether_set_by_flag_or_by_variable():
    default = kernel_environment(load_config([], {}))
    assert default == {"SOURCE_SCHEMES": "local,minio,s3,gs,http,https", "LOCAL_SOURCE_ROOTS": ""}
    flagged = load_config(["--source-schemes", "minio", "--local-source-roots", "/a,/b"], {})
    assert kernel_environment(flagged) == {"SOURCE_SCHEMES": "minio", "LOCAL_SOURCE_ROOTS": "/a,/b"}
    from_env = load_config([], {"SOURCE_SCHEMES": "S3, local", "LOCAL_SOURCE_ROOTS": "/data"})
    assert kernel_environment(from_env)["SOURCE_SCHEMES"] == "s3,local"
    assert from_env.local_source_roots == ("/data",)


def test_kernels_never_get_the_object_store_s_keys():
    config = load_config(
        [], {"OBJECTSTORECONFIG_HOST": "minio", "OBJECTSTORECONFIG_SECRETACCESSKEY": "s"}
    )
    assert not any("OBJECTSTORE" in name for name in kernel_environment(config))


@pytest.mark.parametrize(
    "flags,env,ports",
    [
        ([], {}, None),  # http(s) sources allowed: any port (Landlock filters ports only)
        (["--source-schemes", "minio,s3"], {"OBJECTSTORECONFIG_HOST": "m"}, (9000,)),
        (["--source-schemes", "s3"], {}, (443,)),
        (["--source-schemes", "local"], {}, ()),
        (["--kernel-connect-ports", "9000,443,9000"], {}, (443, 9000)),
        (["--kernel-connect-ports", "none"], {}, ()),
        (["--kernel-connect-ports", "any", "--source-schemes", "local"], {}, None),
    ],
)
def test_kernel_connect_ports_follow_the_sources_allowed(flags, env, ports):
    assert kernel_connect_ports(load_config(flags, env)) == ports


@pytest.mark.parametrize("value", ["0", "70000", "http", ""])
def test_bad_connect_ports_are_refused(value):
    with pytest.raises(ConfigError, match="--kernel-connect-ports / KERNEL_CONNECT_PORTS"):
        load_config(["--kernel-connect-ports", value], {})


def test_timeout_above_its_cap_is_refused():
    with pytest.raises(ConfigError, match="max-timeout"):
        load_config(["--timeout", "50", "--max-timeout", "10"], {})


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("1048576", 2**20), ("512Mi", 512 * 2**20), ("2G", 2 * 10**9), ("1.5Gi", 3 * 2**29)],
)
def test_sizes_follow_kubernetes_units(text, size):
    assert parse_bytes(text) == size


def test_help_documents_every_flag_and_variable():
    text = build_parser().format_help()
    for setting in SETTINGS:
        assert setting.flag in text and setting.env in text


def test_origins_say_where_each_value_came_from():
    config = load_config(["--pool-size", "3"], {"KERNEL_TIMEOUT": "12"})
    assert config.origins["pool_size"] == "--pool-size"
    assert config.origins["timeout"] == "KERNEL_TIMEOUT"
    assert config.origins["max_queue"] == "default"
    assert load_config([], {}).origins["pool_size"].startswith("default: ")


def test_every_setting_belongs_to_exactly_one_group_and_config_is_all_of_them():
    grouped = [row.name for _, group in GROUPS for row in settings_of(group)]
    assert sorted(grouped) == sorted(row.name for row in SETTINGS)
    assert len(set(grouped)) == len(grouped)
    config = load_config([], {})
    for _, group in GROUPS:
        assert isinstance(config, group)  # a part that needs one group takes that type
    assert {f.name for f in dataclasses.fields(Config)} == {*grouped, "origins"}


def test_settings_markdown_is_the_table_section_by_section():
    text = settings_markdown()
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == [title for title, _ in GROUPS]
    for section, (_, group) in zip(sections, GROUPS, strict=True):
        rows = [line for line in section.splitlines() if line.startswith("| `--")]
        assert [r.split("`")[1] for r in rows] == [row.flag for row in settings_of(group)]
        for line, row in zip(rows, settings_of(group), strict=True):
            assert f"`{row.env}`" in line
            assert line.count(" | ") == 3, "a | in a help text must not split the row"
    assert "| `--store-prefix` | `STORE_PREFIX` | visualizations/ |" in text
