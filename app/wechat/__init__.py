"""WeChat access: the wechatpy client factory and (dev/test only) the sandbox emulator."""
