"""Trial ids that carry the trial's index in its sweep, so that `search.seed` fixes every trial's seed.

Ray's `SearchGenerator` (what Tune wraps a `Searcher` in) names each trial with a random uuid
(`Trial.generate_id`), and a trial's training seed is derived from its id
(`seqsweep.trainables.seeding.trial_seed`). With random ids, two runs of the same sweep file with the
same `search.seed` ask Optuna for the same points but train them with other seeds. `IndexedSearchGenerator`
is Ray's `SearchGenerator` with one change: the id of the trial it creates k-th (from 0) is
`<5 hex>_<k:05d>`, the format Ray's `BasicVariantGenerator` gives the trials of a search without a
searcher; the seed is keyed to k. The prefix is random per generator and the index keeps counting
across a resume (Tune saves and restores the generator's counter), so ids stay unique in an experiment.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.experiment.config_parser import _create_trial_from_spec
from ray.tune.search import ConcurrencyLimiter, Searcher, SearchGenerator
from ray.tune.search.variant_generator import _resolve_nested_dict, format_vars
from ray.tune.utils.util import flatten_dict, merge_dicts

from seqsweep.trainables.seeding import indexed_trial_id


class IndexedSearchGenerator(SearchGenerator):
    """Tune's `SearchGenerator` whose k-th trial (from 0) has the id `indexed_trial_id(prefix, k)`.

    `create_trial_if_possible` is Ray 2.60's (`ray/tune/search/search_generator.py`) with the id made
    from the generator's counter instead of a uuid; the searcher is asked with that id, the trial's
    config, tag and parameters are made as Ray makes them. `tests/tuning/test_trial_ids.py` pins it.
    """

    def __init__(self, searcher: Searcher) -> None:
        super().__init__(searcher)
        self._id_prefix = uuid.uuid4().hex[:5]

    def create_trial_if_possible(self, experiment_spec: dict[str, Any]) -> Trial | None:
        trial_id = indexed_trial_id(self._id_prefix, self._counter)
        suggested_config = self.searcher.suggest(trial_id)
        if suggested_config == Searcher.FINISHED:
            self._finished = True
            return None
        if suggested_config is None:
            return None
        spec = copy.deepcopy(experiment_spec)
        spec["config"] = merge_dicts(spec["config"], copy.deepcopy(suggested_config))
        flattened_config = _resolve_nested_dict(spec["config"])
        self._counter += 1
        tag = f"{self._counter}_{format_vars(flattened_config)}"
        trial: Trial = _create_trial_from_spec(
            spec,
            self._parser,
            evaluated_params=flatten_dict(suggested_config),
            experiment_tag=tag,
            trial_id=trial_id,
        )
        return trial


def indexed_search(searcher: Searcher, max_concurrent: int | None) -> IndexedSearchGenerator:
    """`searcher` as Tune would run it with `max_concurrent_trials` (a `ConcurrencyLimiter` when a limit
    is set), in an `IndexedSearchGenerator`. Pass it as `TuneConfig.search_alg` with
    `max_concurrent_trials=None`: Tune applies that limit only to a bare `Searcher`."""
    if max_concurrent:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)
    return IndexedSearchGenerator(searcher)


def inner_searcher(search_alg: Any) -> Any:
    """The searcher inside Tune's wrappers (`SearchGenerator.searcher`, `ConcurrencyLimiter.searcher`)."""
    while isinstance(search_alg, SearchGenerator | ConcurrencyLimiter):
        search_alg = search_alg.searcher
    return search_alg
