"""Command lines live in dlcourse.demos; the reference libraries they drive have none."""

import ast
import inspect

import pytest

from dlcourse.demos import ddp_demo as ddp_cli
from dlcourse.demos import transfer_experiment as transfer_cli
from dlcourse.torch_ref import ddp_demo, transfer_experiment


@pytest.mark.parametrize("module", [ddp_demo, transfer_experiment])
def test_reference_modules_have_no_command_line(module):
    tree = ast.parse(inspect.getsource(module))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert "argparse" not in imported
    assert not hasattr(module, "main")
    assert "__main__" not in inspect.getsource(module)


def test_launch_runs_the_demo_entry_point():
    assert ddp_demo.DEMO_MODULE == ddp_cli.__name__ == "dlcourse.demos.ddp_demo"
    assert "DEMO_MODULE" in inspect.getsource(ddp_demo.launch)


@pytest.mark.parametrize("cli", [ddp_cli, transfer_cli])
def test_entry_points_answer_help(cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_transfer_table_text():
    table = {"few": {"scratch": [0.1, 0.2, 0.3], "probe": [0.5, 0.5, 0.5]}}
    assert transfer_cli.format_table(table).splitlines() == [
        "few   scratch   0.100 / 0.200 / 0.300   mean 0.200",
        "few   probe     0.500 / 0.500 / 0.500   mean 0.500",
    ]


def test_run_rank_checks_steps():
    with pytest.raises(ValueError, match="steps"):
        ddp_demo.run_rank(steps=0)
