# yolox_mm: the two commands of the README are `make trees` and `make test`.
PY := .venv/bin/python
DATA := data/deepforest
TREE_CFG := configs/yolox_nano_1xb4-150e_deepforest.py
TREE_WORK := work_dirs/yolox_nano_1xb4-150e_deepforest

.PHONY: setup data trees pictures test test-fast clean

setup:
	bash tools/setup_env.sh

data: setup
	$(PY) tools/dataset_converters/deepforest_to_coco.py --out-dir $(DATA) --min-tile-side 100

# Main job: set-up, data, training on the tree-crown train split, evaluation
# on val with CocoMetric; the last line reports bbox mAP and mAP@0.5.
trees: data
	$(PY) tools/train.py $(TREE_CFG) --work-dir $(TREE_WORK)
	$(PY) tools/test.py $(TREE_CFG) $$(cat $(TREE_WORK)/last_checkpoint) --work-dir $(TREE_WORK)/test

# The README pictures (docs/images/trees_{detections,curves}.png) from the
# finished `make trees` work dir.
pictures:
	$(PY) tools/analysis_tools/readme_pictures.py $(TREE_WORK) --out-dir docs/images

# The whole suite, slow end-to-end tests included (some train on the tree data).
test: data
	$(PY) -m pytest tests

test-fast: data
	$(PY) -m pytest tests -m "not slow"

clean:
	rm -rf work_dirs
