"""Python's own parser for `dllm data corpus` (standard library only; any python3 >= 3.8).

stdin: JSON lines {"i": id, "text": source}. stdout: one JSON line per input, in order:
  {"i": id, "ok": true, "views": [{"name": qualified name, "prompt": signature + docstring, "body": rest}]}
  {"i": id, "ok": false, "error": "SyntaxError: ... (line N)"}
A file is kept only if it parses as Python 3. The docstring -> body view takes every function (top level or
in a class) whose first statement is a docstring and which has at least one statement after it: the prompt
is the source from the `def` line through the docstring's last line, the body is the function's remaining
lines (their indentation kept), so prompt + body is the function's exact source.
"""
import ast
import json
import sys
import warnings

MAX_BODY_LINES = 60  # long bodies are rarely a docstring's direct answer


def views(tree, lines):
    out = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = child.body
                doc = body[0] if body else None
                has_doc = (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                           and isinstance(doc.value.value, str))
                if has_doc and len(body) > 1 and child.end_lineno - doc.end_lineno <= MAX_BODY_LINES:
                    start = child.lineno - 1  # the def line (decorators stay out of the prompt)
                    prompt = "".join(lines[start:doc.end_lineno])
                    rest = "".join(lines[doc.end_lineno:child.end_lineno])
                    if rest.strip():
                        out.append({"name": prefix + child.name, "prompt": prompt, "body": rest})
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return out


def main():
    for line in sys.stdin:
        item = json.loads(line)
        text = item["text"]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = compile(text, "<corpus>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            res = {"i": item["i"], "ok": True, "views": views(tree, text.splitlines(keepends=True))}
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            res = {"i": item["i"], "ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
        sys.stdout.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
