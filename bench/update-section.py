#!/usr/bin/python3
"""update-section.py FILE NAME: replace FILE's section NAME with standard input.

A section runs from its "<!-- NAME:" line to its "<!-- /NAME -->" line, both
included (the text on stdin carries both). When FILE has no such section the text is
appended after a blank line. Used by the --update of every bench/ script that writes RESULTS.md.
"""
import sys

path, name = sys.argv[1], sys.argv[2]
sec = sys.stdin.read().rstrip("\n") + "\n"
text = open(path).read()
begin, end = "<!-- %s:" % name, "<!-- /%s -->" % name
a = text.find(begin)
b = text.find(end)
if a >= 0 and b > a:
    text = text[:a] + sec + text[b + len(end) + 1:]
else:
    text = text.rstrip("\n") + "\n\n" + sec
open(path, "w").write(text)
