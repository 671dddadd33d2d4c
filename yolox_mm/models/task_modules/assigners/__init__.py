from .sim_ota_assigner import (BatchAssignResult, SimOTAAssigner,
                               candidate_masks, class_cost,
                               dynamic_k_matching, pairwise_iou)

__all__ = [
    'BatchAssignResult', 'SimOTAAssigner', 'candidate_masks', 'class_cost',
    'dynamic_k_matching', 'pairwise_iou'
]
