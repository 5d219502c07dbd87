"""Write a notebook from a compact description: markdown and code cells, with tags.

    from nbbuild import md, code, write
    write("notebooks/00_start_here.ipynb", [md("# Title"), code("1 + 1", tags=["nbval-ignore-output"])])

Then execute it in place: `jupyter nbconvert --to notebook --execute --inplace <path>`.
"""

import textwrap

import nbformat


def md(text):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text, tags=()):
    cell = nbformat.v4.new_code_cell(textwrap.dedent(text).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
