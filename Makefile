# The README's two commands: `make demo` and `make test`. Both create the virtualenv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
DEMO_DIR := runs/demo

.PHONY: setup demo test bench bench-quick bench-ray expert experts paper paper-quick experts-mujoco paper-mujoco paper-mujoco-quick styles styles-quick style-demos \
	mutation mutation-report planted-bugs crashtest clean

setup: $(STAMP)

# requirements.txt holds the dependencies; `pip install -e .` (pyproject.toml) installs them and puts
# the scripts on the venv's PATH as commands (PYTHONWARNINGS: setuptools' notes on editable installs).
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e .
	touch $(STAMP)

# PPO expert -> demonstrations -> GAIL -> BC -> evaluation of each, all with default settings,
# written under runs/demo/ so the shipped expert and demonstrations stay untouched.
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(PY) run_ppo.py --save-dir $(DEMO_DIR)/trained_models/ppo --log-dir $(DEMO_DIR)/log/train/ppo
	$(PY) sample_trajectory.py --model-dir $(DEMO_DIR)/trained_models/ppo --out-dir $(DEMO_DIR)/trajectory
	$(PY) run_gail.py --demo-dir $(DEMO_DIR)/trajectory --save-dir $(DEMO_DIR)/trained_models/gail \
		--log-dir $(DEMO_DIR)/log/train/gail
	$(PY) run_behavior_clone.py --demo-dir $(DEMO_DIR)/trajectory --save-dir $(DEMO_DIR)/trained_models/bc \
		--log-dir $(DEMO_DIR)/log/train/bc
	$(PY) test_policy.py --algos ppo,gail,bc,random --model-dir $(DEMO_DIR)/trained_models/{algo} \
		--log-dir $(DEMO_DIR)/log/test/{algo}

# Ray is an optional extra (experiment sweeps on a cluster); the tests exercise it, so they install it.
$(RAY_STAMP): $(STAMP) requirements-ray.txt
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e ".[ray]"
	touch $(RAY_STAMP)

test: $(STAMP) $(RAY_STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) bench/bench.py

bench-quick: $(STAMP)
	$(PY) bench/bench.py --quick

# The Ray runner: per-run overhead, and the quick paper sweep on the local pool vs 1 and 2 Ray nodes.
bench-ray: $(STAMP) $(RAY_STAMP)
	$(PY) bench/ray_sweep.py

# Regenerate the shipped expert (trained_models/ppo/CartPole-v1) and its 10 demonstrations.
expert: $(STAMP)
	$(PY) experiments/paper.py experts --envs CartPole-v1 --force

# PPO experts for Acrobot-v1, MountainCar-v0 and Pendulum-v1 (CartPole's is `make expert`) and
# their 10 demonstrations in trajectory/<env>; flags in experiments/paper.py.
experts: $(STAMP)
	$(PY) experiments/paper.py experts --envs Acrobot-v1,MountainCar-v0,Pendulum-v1 --force

# The GAIL paper's classic-control experiment: table and figure in experiments/results/.
paper: $(STAMP)
	$(PY) experiments/paper.py run

paper-quick: $(STAMP)
	$(PY) experiments/paper.py run --quick

# The GAIL paper's MuJoCo experiment: PPO experts with 25 demonstrations each (35-80 min per env
# on 2 cores), then GAIL and BC by number of trajectories (experiments/results/mujoco/); resumable.
experts-mujoco: $(STAMP)
	$(PY) experiments/paper.py experts --suite mujoco --force

paper-mujoco: $(STAMP)
	$(PY) experiments/paper.py run --suite mujoco

paper-mujoco-quick: $(STAMP)
	$(PY) experiments/paper.py run --suite mujoco --quick

# The style benchmark: GAIL and BC imitating hand-written experts with a style of their own
# (table and figure in experiments/results/styles/); style-demos re-records their demonstrations.
styles: $(STAMP)
	$(PY) experiments/styles.py run

styles-quick: $(STAMP)
	$(PY) experiments/styles.py run --quick

style-demos: $(STAMP)
	$(PY) experiments/styles.py demos --force

# Mutation testing of the learning rules and the data checks with cosmic-ray (not part of `make test`):
# each module's mutants against its fast tests, in copies under mutants/; results, survivors and
# their verdicts in tests/mutation/. MODULES=algo/ppo.py,common/rollout.py runs only those
# (see tools/mutation.py for the list and each module's tests); JOBS modules run side by side;
# MUTATION_FLAGS=--survivors retries only the last run's survivors (after writing tests for them),
# --resume finishes an interrupted run.
MUTATION_STAMP := $(VENV)/.mutation-installed
JOBS ?= 2

$(MUTATION_STAMP): $(STAMP) requirements-mutation.txt
	$(PY) -m pip install --quiet -r requirements-mutation.txt
	touch $@

mutation: $(MUTATION_STAMP)
	$(PY) tools/mutation.py run --jobs $(JOBS) $(if $(MODULES),--modules $(MODULES)) $(MUTATION_FLAGS)

mutation-report: $(MUTATION_STAMP)
	$(PY) tools/mutation.py report

# The nine bugs a spot-check once planted unnoticed, each planted again against the test named to
# catch it (tools/planted_bugs.py; report in tests/mutation/planted.md).
planted-bugs: $(STAMP)
	$(PY) tools/planted_bugs.py

# SIGKILL training (PPO, GAIL, BC) and sampling at 30 random instants each; every kill is followed
# by checks that nothing was lost (tools/crashtest.py). A 2-kill version runs in `make test`.
crashtest: $(STAMP)
	$(PY) tools/crashtest.py --kills 30 --out bench/results/crashtest.json

clean:
	rm -rf runs log .pytest_cache mutants
