"""The SLURM launcher config follows the trainer: one task per device (Lightning's SLURM DDP)."""
import pytest
from omegaconf import OmegaConf
from tests.conftest import compose_config


@pytest.mark.parametrize("devices", [1, 3])
def test_ddp_devices_give_as_many_slurm_tasks_per_node(devices: int) -> None:
    cfg = compose_config("ROOT", "hydra/launcher=slurm", "trainer=ddp",
                         f"trainer.devices={devices}", return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["tasks_per_node"] == cfg.trainer.devices == devices
