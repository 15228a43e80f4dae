@echo off
rem Build the inference container, as the lab's "Build Inference Container" does, through labtui:
rem it takes the newest worst_regression from your dev ML workspace, builds the image from this
rem folder of your working copy and checks that it answers a scoring request.
rem
rem Set these four for your dev environment (they stay the same for this algorithm and your
rem machine); an empty one keeps what labtui already has. Then, from this folder:
rem   runbuild_local.cmd              (labtui options may follow: --force, --plan, --json ...)
set subscription_id=
set ml_resource_group=
set ml_workspace_name=
set ml_alg_author=

setlocal
set args=--step build-image --headless %*
if not "%subscription_id%"=="" set args=%args% --set "subscription-id=%subscription_id%"
if not "%ml_resource_group%"=="" set args=%args% --set "resource-group=%ml_resource_group%"
if not "%ml_workspace_name%"=="" set args=%args% --set "ml-workspace-name=%ml_workspace_name%"
if not "%ml_alg_author%"=="" set args=%args% --set "created-by=%ml_alg_author%"
rem A working copy labtui cloned lives in <workspace>\repos\<project>: use that workspace.
if "%LABTUI_WORKSPACE%"=="" if exist "%~dp0..\..\..\state.db" set args=%args% --workspace "%~dp0..\..\.."
if "%LABTUI%"=="" set LABTUI=labtui
%LABTUI% %args%
