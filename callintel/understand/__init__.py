"""Understanding: classifiers that read a speaker-attributed transcript (issue 3).

``tokenizer`` trains the project's own tokenizer, ``tasks`` turns labelled dialogues into
examples for the three tasks, ``training`` trains and saves models, ``metrics`` scores them,
and ``classifiers`` runs them on a call.
"""
