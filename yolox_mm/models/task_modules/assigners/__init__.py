from .one_to_one_assigner import (OneToOneAssigner, match_one_to_one,
                                  simota_cost)
from .sim_ota_assigner import (BatchAssignResult, ClassProbs, SimOTAAssigner,
                               candidate_masks, class_cost,
                               dynamic_k_matching, label_class_cost,
                               pairwise_iou, prior_class_sum)

__all__ = [
    'BatchAssignResult', 'ClassProbs', 'SimOTAAssigner', 'candidate_masks',
    'class_cost', 'dynamic_k_matching', 'label_class_cost', 'pairwise_iou',
    'prior_class_sum', 'OneToOneAssigner', 'match_one_to_one', 'simota_cost'
]
