from engine.crm.login_throttle import LoginThrottle


def test_a_username_is_locked_after_max_failures_within_the_window() -> None:
    throttle = LoginThrottle(max_failures=3, window=60, lockout=300)
    assert [throttle.failed("grace", t) for t in (0, 10, 20)] == [False, False, True]
    assert throttle.retry_after("grace", 20) == 300
    assert throttle.retry_after("grace", 319) == 1
    assert throttle.retry_after("grace", 320) is None
    assert throttle.retry_after("linus", 20) is None  # other users are not affected


def test_failures_older_than_the_window_do_not_count() -> None:
    throttle = LoginThrottle(max_failures=3, window=60, lockout=300)
    assert throttle.failed("grace", 0) is False
    assert throttle.failed("grace", 50) is False
    assert throttle.failed("grace", 70) is False  # the one at 0 has left the window
    assert throttle.failed("grace", 100) is True


def test_a_success_clears_the_failures() -> None:
    throttle = LoginThrottle(max_failures=2, window=60, lockout=300)
    throttle.failed("grace", 0)
    throttle.succeeded("grace")
    assert throttle.failed("grace", 1) is False


def test_memory_is_bounded_when_many_usernames_are_sprayed() -> None:
    throttle = LoginThrottle(max_failures=5, window=60, lockout=30)
    for i in range(1000):
        throttle.failed(f"user{i}", 0)
    throttle.failed("late", 61)
    assert set(throttle._failures) == {"late"}
