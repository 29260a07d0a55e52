#!/usr/bin/env python3
"""Regenerates the embedded data files from their public sources (see README.md).

    pip download scikit-learn --no-deps && unzip scikit_learn-*.whl 'sklearn/datasets/data/digits.csv.gz'
    python3 make_resources.py sklearn/datasets/data/digits.csv.gz     # needs numpy and networkx
"""
import gzip
import sys

import networkx as nx
import numpy as np

raw = np.loadtxt(gzip.open(sys.argv[1], "rt"), delimiter=",")
images, labels = raw[:, :-1].astype(np.uint8), raw[:, -1].astype(np.uint8)
assert raw.shape == (1797, 65) and (images == raw[:, :-1]).all() and images.max() == 16
np.save("digits_images.npy", images)  # (1797, 64) '|u1', pixel counts 0..16
np.save("digits_labels.npy", labels)  # (1797,) '|u1', digits 0..9
print("first image pixel sum", int(images[0].sum()), "class counts", np.bincount(labels).tolist())

G = nx.karate_club_graph()
clubs = [G.nodes[i]["club"] for i in range(G.number_of_nodes())]
with open("karate_club.txt", "w") as f:
    f.write("# Zachary's karate club (W. W. Zachary, \"An information flow model for conflict and fission in\n")
    f.write("# small groups\", Journal of Anthropological Research 33(4):452-473, 1977).\n")
    f.write("# 34 members (nodes 0-33), 78 undirected friendship ties, unweighted.\n")
    f.write("# Exported from networkx.karate_club_graph() (networkx %s).\n" % nx.__version__)
    f.write("# 'node i f': member i joined faction f after the split (0 = Mr. Hi, 1 = Officer).\n")
    f.write("# 'edge u v': an undirected tie between members u and v.\n")
    for i, c in enumerate(clubs):
        f.write("node %d %d\n" % (i, 0 if c == "Mr. Hi" else 1))
    for u, v in sorted((min(a, b), max(a, b)) for a, b in G.edges()):
        f.write("edge %d %d\n" % (u, v))
