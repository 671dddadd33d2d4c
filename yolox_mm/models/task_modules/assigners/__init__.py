from .one_to_one_assigner import (OneToOneAssigner, match_one_to_one,
                                  simota_cost)
from .sim_ota import (BatchAssignResult, Cheapest, ClassProbs, Selection,
                      candidate_masks, cheapest_gt, class_cost, dynamic_k,
                      label_class_cost, matching_cost, pairwise_iou,
                      prior_class_sum, resolve_conflicts, select_dynamic_k)
from .sim_ota_assigner import SimOTAAssigner

__all__ = [
    'BatchAssignResult', 'Cheapest', 'ClassProbs', 'Selection',
    'SimOTAAssigner', 'candidate_masks', 'cheapest_gt', 'class_cost',
    'dynamic_k', 'label_class_cost', 'matching_cost', 'pairwise_iou',
    'prior_class_sum', 'resolve_conflicts', 'select_dynamic_k',
    'OneToOneAssigner', 'match_one_to_one', 'simota_cost'
]
