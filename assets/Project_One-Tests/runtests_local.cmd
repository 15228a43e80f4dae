@echo off
rem Test the inference container, as the lab's "Test Inference Container" does, through labtui:
rem it extends the image runbuild_local built with these tests, runs them with coverage inside
rem it and shows the results (JUnit, Cobertura and the HTML report, in labtui's artifacts).
rem   runtests_local.cmd              (labtui options may follow: --force, --json ...)
setlocal
set args=--step test-image --headless %*
rem A working copy labtui cloned lives in <workspace>\repos\<project>: use that workspace.
if "%LABTUI_WORKSPACE%"=="" if exist "%~dp0..\..\..\state.db" set args=%args% --workspace "%~dp0..\..\.."
if "%LABTUI%"=="" set LABTUI=labtui
%LABTUI% %args%
