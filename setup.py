"""Only the C extension lives here; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nimbus._speedups",
            ["src/nimbus/_speedups.c"],
            libraries=["z"],
            extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration"],
        )
    ]
)
