using System.Text.Json;
using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using Microsoft.DurableTask;
using Moq;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The orchestration's decisions, against a mocked <see cref="TaskOrchestrationContext"/>.</summary>
public sealed class RunOrchestrationTests
{
    private static readonly Guid RequestGuid = Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff");
    private static readonly string RequestId = RequestGuid.ToString("D");

    [Fact]
    public async Task AnAcceptedSignal_CancelsTheDeadlineTimer_AndTheRunGoesOn()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("""{"ok":true}"""));
        var orchestration = run.Start();

        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Signals.Dequeue().SetResult(new SignalEvent(RequestId, SignalActions.Approve, null, DateTimeOffset.UtcNow));
        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(TimeSpan.FromSeconds(5)));

        Assert.True(run.TimerToken.IsCancellationRequested, "the deadline timer must be cancelled when the signal wins");
        Assert.Equal(
            ["run.created", "run.started", "run.awaiting_input", "run.signal_received", "run.worker.succeeded"],
            run.Events.Select(e => e.Type));
        Assert.Equal([1L, 2, 3, 4, 5], run.Events.Select(e => e.Seq));
        Assert.DoesNotContain(nameof(RunActivities.ExpireRequest), run.Activities);
    }

    [Fact]
    public async Task TheAwaitingInputEvent_CarriesTheRequest_AndExpiresAtTheRunsTimeout()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Data, "Who?", """{"tool":"send"}"""));
        _ = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));

        var awaiting = run.Events.Single(e => e.Type == RunEventTypes.AwaitingInput);
        using var value = JsonDocument.Parse(awaiting.ValueJson);
        Assert.Equal(RequestId, value.RootElement.GetProperty("request_id").GetString());
        Assert.Equal("NEEDS_DATA", value.RootElement.GetProperty("reason_code").GetString());
        Assert.Equal(["submit_input", "reject"], value.RootElement.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("send", value.RootElement.GetProperty("proposed_action").GetProperty("tool").GetString());
        Assert.Equal(FakeRun.Now.AddSeconds(FakeRun.TimeoutSeconds), run.TimerFireAt);
        Assert.Equal(RunStatus.AwaitingInput, run.Projections.Last().Status);
        Assert.Equal(RequestId, run.Projections.Last().PendingRequestId);
    }

    [Fact]
    public async Task TheDeadline_WhenTheRecordSaysExpired_CancelsWithSignalTimeout()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?")) { Expiry = new ExpireRequestResult(ExpireOutcome.Expired, null) };
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Timer.SetResult();

        Assert.Equal(RunStatus.Cancelled, await orchestration.WaitAsync(TimeSpan.FromSeconds(5)));
        var cancelled = run.Events[^1];
        Assert.Equal(RunEventTypes.Cancelled, cancelled.Type);
        Assert.Contains("signal_timeout", cancelled.ValueJson, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(RunActivities.ClaimCompletion), run.Activities);
    }

    [Fact]
    public async Task TheDeadline_WhenASignalWonTheRecord_GoesOnWithThatSignal_NotATimeout()
    {
        var stored = new SignalEvent(RequestId, SignalActions.Approve, null, DateTimeOffset.UtcNow);
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("{}"))
        {
            Expiry = new ExpireRequestResult(ExpireOutcome.Answered, stored),
        };
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Timer.SetResult();

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(["run.created", "run.started", "run.awaiting_input", "run.signal_received", "run.worker.succeeded"], run.Events.Select(e => e.Type));
    }

    [Fact]
    public async Task ASignalForAnotherRequest_IsDiscarded_AndTheWaitGoesOnAgainstTheSameDeadline()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));

        run.Signals.Dequeue().SetResult(new SignalEvent(Guid.NewGuid().ToString(), SignalActions.Reject, null, DateTimeOffset.UtcNow));
        await Eventually(() => run.Signals.Count == 1);
        Assert.False(orchestration.IsCompleted);
        run.Signals.Dequeue().SetResult(new SignalEvent(RequestId, SignalActions.Approve, null, DateTimeOffset.UtcNow));

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, run.TimersCreated);
        Assert.Single(run.Events, e => e.Type == RunEventTypes.SignalReceived);
    }

    [Fact]
    public async Task Reject_FailsTheRunWithReasonCodeRejected_AndTheGivenReason()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Signals.Dequeue().SetResult(new SignalEvent(RequestId, SignalActions.Reject, """{"reason":"wrong list"}""", DateTimeOffset.UtcNow));

        Assert.Equal(RunStatus.Failed, await orchestration.WaitAsync(TimeSpan.FromSeconds(5)));
        var claim = Assert.Single(run.Claims);
        Assert.Equal(RunStatus.Failed, claim.Status);
        Assert.Contains("rejected", claim.ErrorJson, StringComparison.Ordinal);
        Assert.Equal(RunEventTypes.Failed, run.Events[^1].Type);
        Assert.Contains("wrong list", run.Events[^1].ValueJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmittedInput_IsGivenToTheAgentsNextStep()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Data, "Who?"), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Signals.Dequeue().SetResult(new SignalEvent(RequestId, SignalActions.SubmitInput, """{"to":"leads"}""", DateTimeOffset.UtcNow));

        await orchestration.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["""{"to":"leads"}"""], run.AgentInputs[^1].HumanInputsJson);
        Assert.Equal(1, run.AgentInputs[^1].StepIndex);
    }

    [Fact]
    public async Task ARedactedSignal_IsLoggedMasked_ButTheAgentGetsTheRealValues()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Data, "Password?"), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Signals.Dequeue().SetResult(new SignalEvent(
            RequestId, SignalActions.SubmitInput, """{"password":"hunter2"}""", DateTimeOffset.UtcNow, """{"password":"[REDACTED]"}""", PayloadRedacted: true));

        await orchestration.WaitAsync(TimeSpan.FromSeconds(5));
        var received = run.Events.Single(e => e.Type == RunEventTypes.SignalReceived);
        Assert.True(received.Redacted);
        Assert.DoesNotContain("hunter2", received.ValueJson, StringComparison.Ordinal);
        Assert.Equal(["""{"password":"hunter2"}"""], run.AgentInputs[^1].HumanInputsJson);
    }

    [Fact]
    public async Task WhenACancelWasRequestedFirst_FinishingBecomesACancel()
    {
        var run = new FakeRun(AgentDecision.Finish("{}")) { ClaimResult = false };
        Assert.Equal(RunStatus.Cancelled, await run.Start().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(RunEventTypes.Cancelled, run.Events[^1].Type);
        Assert.Contains("cancelled_by_user", run.Events[^1].ValueJson, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Events, e => e.Type == RunEventTypes.Succeeded);
    }

    [Fact]
    public async Task ACancelWhileWaiting_EndsTheWait_AndCancelsTheTimer()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(TimeSpan.FromSeconds(5));
        run.Cancel.SetResult(new CancelEvent(DateTimeOffset.UtcNow));

        Assert.Equal(RunStatus.Cancelled, await orchestration.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(run.TimerToken.IsCancellationRequested);
        Assert.Contains("cancelled_by_user", run.Events[^1].ValueJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAgentThatKeepsFailing_FailsTheRunWithAgentError()
    {
        var run = new FakeRun();
        run.AgentFailure = new TaskFailedException(nameof(RunActivities.InvokeAgent), 1, new TaskFailureDetails("Boom", "model unavailable", null, null, null));
        Assert.Equal(RunStatus.Failed, await run.Start().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("agent_error", run.Events[^1].ValueJson, StringComparison.Ordinal);
        Assert.Contains("model unavailable", run.Events[^1].ValueJson, StringComparison.Ordinal);
    }

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    /// <summary>A mocked orchestration context whose activities, events and timers the test drives.</summary>
    private sealed class FakeRun
    {
        public const int TimeoutSeconds = 60;
        public static readonly DateTime Now = new(2026, 3, 26, 14, 35, 1, DateTimeKind.Utc);
        private readonly Mock<TaskOrchestrationContext> _context = new() { CallBase = true };
        private readonly Queue<AgentDecision> _decisions;

        public FakeRun(params AgentDecision[] decisions)
        {
            _decisions = new Queue<AgentDecision>(decisions);
            _context.SetupGet(c => c.CurrentUtcDateTime).Returns(Now);
            _context.SetupGet(c => c.InstanceId).Returns("run_test");
            _context.Setup(c => c.NewGuid()).Returns(RequestGuid);
            _context.Setup(c => c.WaitForExternalEvent<CancelEvent>(RunEventNames.Cancel, It.IsAny<CancellationToken>())).Returns(Cancel.Task);
            _context.Setup(c => c.WaitForExternalEvent<SignalEvent>(RunEventNames.Signal, It.IsAny<CancellationToken>())).Returns(() =>
            {
                var signal = new TaskCompletionSource<SignalEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                Signals.Enqueue(signal);
                return signal.Task;
            });
            _context.Setup(c => c.CreateTimer(It.IsAny<DateTime>(), It.IsAny<CancellationToken>())).Returns((DateTime fireAt, CancellationToken token) =>
            {
                TimersCreated++;
                TimerFireAt = fireAt;
                TimerToken = token;
                token.Register(() => Timer.TrySetCanceled());
                TimerCreated.TrySetResult();
                return Timer.Task;
            });
            _context.Setup(c => c.CallActivityAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName name, object? input, TaskOptions? _) =>
                {
                    Activities.Add(name.Name);
                    var record = (RecordEventsInput)input!;
                    Events.AddRange(record.Events);
                    Projections.Add(record.Projection);
                    return Task.CompletedTask;
                });
            _context.Setup(c => c.CallActivityAsync<AgentDecision>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName name, object? input, TaskOptions? _) =>
                {
                    Activities.Add(name.Name);
                    AgentInputs.Add((AgentStepInput)input!);
                    if (AgentFailure is not null)
                    {
                        return Task.FromException<AgentDecision>(AgentFailure);
                    }

                    // A plan that runs out keeps waiting rather than finishing, so tests can watch a run mid-way.
                    return _decisions.Count > 0 ? Task.FromResult(_decisions.Dequeue()) : new TaskCompletionSource<AgentDecision>().Task;
                });
            _context.Setup(c => c.CallActivityAsync<bool>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName name, object? input, TaskOptions? _) =>
                {
                    Activities.Add(name.Name);
                    Claims.Add((ClaimCompletionInput)input!);
                    return Task.FromResult(ClaimResult);
                });
            _context.Setup(c => c.CallActivityAsync<ExpireRequestResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName name, object? _, TaskOptions? _) =>
                {
                    Activities.Add(name.Name);
                    return Task.FromResult(Expiry ?? throw new InvalidOperationException("No expiry outcome set."));
                });
        }

        public TaskCompletionSource<CancelEvent> Cancel { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Queue<TaskCompletionSource<SignalEvent>> Signals { get; } = new();

        public TaskCompletionSource Timer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource TimerCreated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken TimerToken { get; private set; }

        public DateTime TimerFireAt { get; private set; }

        public int TimersCreated { get; private set; }

        public List<string> Activities { get; } = [];

        public List<EventRecord> Events { get; } = [];

        public List<RunProjection> Projections { get; } = [];

        public List<AgentStepInput> AgentInputs { get; } = [];

        public List<ClaimCompletionInput> Claims { get; } = [];

        public bool ClaimResult { get; set; } = true;

        public ExpireRequestResult? Expiry { get; set; }

        public Exception? AgentFailure { get; set; }

        public Task<string> Start() => Task.Run(() => RunOrchestration.RunAsync(
            _context.Object, new RunOrchestrationInput("tenant", "run_test", """{"goal":"g"}""", null, TimeoutSeconds)));
    }
}
