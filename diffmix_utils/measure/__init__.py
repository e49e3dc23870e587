"""The toybirds measuring kit: does inter-class translation keep the background and change the bird?

- ``oracles``   a small two-head CNN, trained once on a separate stream of rendered birds, that says
  which class a bird is and which background it stands on;
- ``fidelity``  translate held-out images toward other classes at each strength and score them
  (``benchmarks/fidelity.py`` prints the table).
Not a stage: it reads the fine-tune folder and the split file, and writes only its oracle cache.
"""
