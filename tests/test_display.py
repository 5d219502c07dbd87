"""In a notebook, errors from AWS and from the lab show as one line: the error code and message."""

import re
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_cell("import boto3, lambda_lab; lab = lambda_lab.Lab(quiet=True)")
    print("--- aws")
    shell.run_cell("boto3.client('lambda').get_function(FunctionName='nope')")
    print("--- lab")
    shell.run_cell("lambda_lab.power_tune('nope', memory_sizes=[])")
    print("--- learner")
    shell.run_cell("def mine():\\n    return 1 / 0\\nmine()")
    shell.run_cell("lab.stop()")
""")


def test_aws_and_lab_errors_are_one_line_and_others_keep_their_traceback():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)  # IPython's colours
    _, aws, lab, learner = plain.split("--- ")
    aws_lines = [line for line in aws.splitlines()[1:] if line.strip()]
    assert len(aws_lines) == 1, aws
    assert "ResourceNotFoundException" in aws_lines[0]
    assert "An error occurred (ResourceNotFoundException) when calling the GetFunction operation" in aws_lines[0]
    lab_lines = [line for line in lab.splitlines()[1:] if line.strip()]
    assert len(lab_lines) == 1 and "ValueError" in lab_lines[0] and "memory_sizes" in lab_lines[0], lab
    assert "site-packages" not in aws + lab and "lambda_lab/" not in aws + lab
    # the learner's own bug keeps IPython's full traceback, frames and all
    assert "Traceback (most recent call last)" in learner and "ZeroDivisionError" in learner
    assert "return 1 / 0" in learner
