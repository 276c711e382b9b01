from .linear_decoder import CMIDLinearDecoder

__all__ = ['CMIDLinearDecoder']
