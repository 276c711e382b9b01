from .bad_image_count_hook import BadImageCountHook
from .compile_backbones_hook import CompileBackbonesHook
from .finite_checkpoint_hook import FiniteCheckpointHook
from .knn_monitor_hook import KNNMonitorHook
from .teacher_temp_hook import LocalTeacherTempHook

__all__ = ['LocalTeacherTempHook', 'KNNMonitorHook', 'FiniteCheckpointHook', 'BadImageCountHook',
           'CompileBackbonesHook']
