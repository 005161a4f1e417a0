using System.Threading.Channels;
using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Moq.Protected;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The orchestration's decisions, against a mocked <see cref="TaskOrchestrationContext"/>.</summary>
public sealed class RunOrchestrationTests
{
    private static readonly Guid RequestGuid = Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff");
    private static readonly string RequestId = RequestGuid.ToString("D");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task AnAcceptedSignal_CancelsTheDeadlineTimer_AndTheRunGoesOn()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("""{"ok":true}"""));
        var orchestration = run.Start();

        await run.TimerCreated.Task.WaitAsync(Wait);
        (await run.NextSignal()).SetResult(Signal(SignalActions.Approve));
        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));

        Assert.True(run.TimerToken.IsCancellationRequested, "the deadline timer must be cancelled when the signal wins");
        Assert.Equal([RunWriteKind.Start, RunWriteKind.OpenRequest, RunWriteKind.Complete], run.Writes.Select(w => w.Kind));
        Assert.Equal([1, 2, 3], run.Writes.Select(w => w.Index));
        Assert.DoesNotContain(nameof(RunActivities.ExpireRequest), run.Activities);
    }

    [Fact]
    public async Task TheRequest_CarriesThePromptAndProposedAction_AndExpiresAtTheRunsTimeout()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Data, "Who?", """{"tool":"send"}"""));
        _ = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);

        var request = run.Writes.Single(w => w.Kind == RunWriteKind.OpenRequest).Request!;
        Assert.Equal(RequestId, request.RequestId);
        Assert.Equal("NEEDS_DATA", request.ReasonCode);
        Assert.Equal(["submit_input", "reject"], request.AllowedActions);
        Assert.Equal("""{"tool":"send"}""", request.ProposedActionJson);
        Assert.Equal(new DateTimeOffset(FakeRun.Now.AddSeconds(FakeRun.TimeoutSeconds), TimeSpan.Zero), request.ExpiresAt);
        Assert.Equal(FakeRun.Now.AddSeconds(FakeRun.TimeoutSeconds), run.TimerFireAt);
    }

    [Fact]
    public async Task AWait_SetsADurableTimer_WritesNothing_AndThenAsksTheAgentForTheNextStep()
    {
        var run = new FakeRun(AgentDecision.Wait(30), AgentDecision.Finish("{}"));
        var orchestration = run.Start();

        await run.TimerCreated.Task.WaitAsync(Wait);
        Assert.Equal(FakeRun.Now.AddSeconds(30), run.TimerFireAt);
        Assert.Equal([RunWriteKind.Start], run.Writes.Select(w => w.Kind));
        Assert.Single(run.AgentInputs);
        run.FireTimer();

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));
        Assert.Equal([0, 1], run.AgentInputs.Select(i => i.StepIndex));
        Assert.Equal([RunWriteKind.Start, RunWriteKind.Complete], run.Writes.Select(w => w.Kind));
    }

    [Fact]
    public async Task ACancelDuringAWait_EndsTheOrchestration_AndCancelsItsTimer()
    {
        var run = new FakeRun(AgentDecision.Wait(3600), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);

        run.Cancel.SetResult(new CancelEvent(DateTimeOffset.UtcNow));

        Assert.Equal("cancelled", await orchestration.WaitAsync(Wait));
        Assert.True(run.TimerToken.IsCancellationRequested);
        Assert.Single(run.AgentInputs);
    }

    [Fact]
    public async Task ARequestWhoseProposedActionTheAgentMasked_IsWrittenAsRedacted()
    {
        var run = new FakeRun(AgentDecision.Ask(new HumanRequestSpec(InputKinds.Approval, "Deploy?", """{"token":"[REDACTED]"}""", ProposedActionRedacted: true)));
        _ = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);

        var write = run.Writes.Single(w => w.Kind == RunWriteKind.OpenRequest);
        Assert.True(write.RequestRedacted);
        Assert.True(RunEventValues.AwaitingInput(write.Request!, write.RequestRedacted).Redacted);
    }

    [Fact]
    public async Task TheDeadline_WhenTheRecordSaysExpired_EndsTheOrchestrationWithoutAnotherWrite()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?")) { Expiry = new ExpireOutcome(ExpireVerdict.Expired) };
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        run.FireTimer();

        Assert.Equal("ended", await orchestration.WaitAsync(Wait));
        Assert.Equal([RunWriteKind.Start, RunWriteKind.OpenRequest], run.Writes.Select(w => w.Kind));
    }

    [Fact]
    public async Task TheDeadline_WhenASignalWonTheRecord_GoesOnWithThatSignal_NotATimeout()
    {
        var answer = new Answer(RequestId, SignalActions.Approve, DateTimeOffset.UtcNow, null, null, null);
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("{}"))
        {
            Expiry = new ExpireOutcome(ExpireVerdict.Answered, answer),
        };
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        run.FireTimer();

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));
    }

    [Fact]
    public async Task ATimerThatFiredEarly_WaitsOutTheRest_WithANewTimerAfterTheDeadline()
    {
        var expiresAt = new DateTimeOffset(FakeRun.Now.AddSeconds(FakeRun.TimeoutSeconds), TimeSpan.Zero);
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("{}"))
        {
            Expiry = new ExpireOutcome(ExpireVerdict.NotYet, ExpiresAt: expiresAt),
        };
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        run.FireTimer();

        await Eventually(() => run.TimersCreated == 2);
        Assert.True(run.TimerFireAt > expiresAt.UtcDateTime, "the second timer is set after the deadline");
        Assert.False(orchestration.IsCompleted);
        (await run.NextSignal()).SetResult(Signal(SignalActions.Approve));
        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));
    }

    [Fact]
    public async Task ASignalForAnotherRequest_IsDiscarded_AndTheWaitGoesOnAgainstTheSameDeadline()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);

        (await run.NextSignal()).SetResult(new SignalEvent(Guid.NewGuid().ToString(), SignalActions.Reject, null, DateTimeOffset.UtcNow));
        var again = await run.NextSignal();
        Assert.False(orchestration.IsCompleted);
        again.SetResult(Signal(SignalActions.Approve));

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));
        Assert.Equal(1, run.TimersCreated);
    }

    [Fact]
    public async Task TwoRequestsInARun_ShareOneWaiterPerEvent_SoNoAbandonedWaiterSwallowsALaterEvent()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "First?"), AgentDecision.Ask(InputKinds.Approval, "Second?"), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        (await run.NextSignal()).SetResult(Signal(SignalActions.Approve));
        (await run.NextSignal()).SetResult(Signal(SignalActions.Approve));

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));
        Assert.Equal(1, run.MovedWaiters);
    }

    [Fact]
    public async Task Reject_FailsTheRunWithReasonCodeRejected_AndTheGivenReason()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        (await run.NextSignal()).SetResult(Signal(SignalActions.Reject, """{"reason":"wrong list"}"""));

        Assert.Equal(RunStatus.Failed, await orchestration.WaitAsync(Wait));
        var ending = run.Writes[^1].Ending!;
        Assert.Equal((RunStatus.Failed, RunReasonCodes.Rejected, "wrong list"), (ending.Status, ending.Error!.ReasonCode, ending.Error.Reason));
    }

    [Fact]
    public async Task SubmittedInput_IsGivenToTheAgentsNextStep()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Data, "Who?"), AgentDecision.Finish("{}"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        (await run.NextSignal()).SetResult(Signal(SignalActions.SubmitInput, """{"to":"leads"}"""));

        await orchestration.WaitAsync(Wait);
        Assert.Equal(["""{"to":"leads"}"""], run.AgentInputs[^1].SubmittedInputs());
        Assert.Equal(1, run.AgentInputs[^1].StepIndex);
    }

    [Fact]
    public async Task AWriteRefusedBecauseTheRunEnded_StopsTheOrchestration_BeforeTheNextStep()
    {
        var run = new FakeRun(AgentDecision.Work("draft", "drafted"), AgentDecision.Finish("{}")) { EndedAtWrite = 2 };

        Assert.Equal("ended", await run.Start().WaitAsync(Wait));
        Assert.Single(run.AgentInputs);
        Assert.Equal([RunWriteKind.Start, RunWriteKind.Progress], run.Writes.Select(w => w.Kind));
    }

    [Fact]
    public async Task ACancelWhileWaiting_EndsTheWait_AndCancelsTheTimer()
    {
        var run = new FakeRun(AgentDecision.Ask(InputKinds.Approval, "Send?"));
        var orchestration = run.Start();
        await run.TimerCreated.Task.WaitAsync(Wait);
        run.Cancel.SetResult(new CancelEvent(DateTimeOffset.UtcNow));

        Assert.Equal("ended", await orchestration.WaitAsync(Wait));
        Assert.True(run.TimerToken.IsCancellationRequested);
        Assert.Equal(2, run.Writes.Count);
    }

    [Fact]
    public async Task AnAgentThatKeepsFailing_FailsTheRunWithAgentError()
    {
        var run = new FakeRun { AgentFailure = Failure(nameof(RunActivities.InvokeAgent), "model unavailable") };

        Assert.Equal(RunStatus.Failed, await run.Start().WaitAsync(Wait));
        var ending = run.Writes[^1].Ending!;
        Assert.Equal(RunReasonCodes.AgentError, ending.Error!.ReasonCode);
        Assert.Contains("model unavailable", ending.Error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStepThatCouldNotReachStorage_WaitsAndAsksAgain_AndTheRunGoesOn()
    {
        var run = new FakeRun(AgentDecision.Finish("{}"));
        run.AgentFailuresFirst.Enqueue(StorageOut(wrapped: true));
        run.AgentFailuresFirst.Enqueue(StorageOut(wrapped: false));
        var orchestration = run.Start();

        await Eventually(() => run.TimersCreated == 1);
        Assert.Equal(FakeRun.Now + RunOrchestration.StorageOutageWaits[0], run.TimerFireAt);
        Assert.Single(run.AgentInputs);
        run.FireTimer();
        await Eventually(() => run.TimersCreated == 2);
        Assert.Equal(FakeRun.Now + RunOrchestration.StorageOutageWaits[1], run.TimerFireAt);
        run.FireTimer();

        Assert.Equal(RunStatus.Succeeded, await orchestration.WaitAsync(Wait));
        Assert.Equal([0, 0, 0], run.AgentInputs.Select(i => i.StepIndex));
        Assert.Equal([RunWriteKind.Start, RunWriteKind.Complete], run.Writes.Select(w => w.Kind));
    }

    [Fact]
    public async Task AStepThatNeverReachesStorage_EndsTheRunWithEngineError_AfterItsWaits()
    {
        var run = new FakeRun(AgentDecision.Finish("{}"));
        for (var i = 0; i <= RunOrchestration.StorageOutageWaits.Length; i++)
        {
            run.AgentFailuresFirst.Enqueue(StorageOut(wrapped: i % 2 == 0));
        }

        var orchestration = run.Start();
        for (var waits = 1; waits <= RunOrchestration.StorageOutageWaits.Length; waits++)
        {
            await Eventually(() => run.TimersCreated == waits);
            run.FireTimer();
        }

        Assert.Equal(RunStatus.Failed, await orchestration.WaitAsync(Wait));
        var ending = run.Writes[^1].Ending!;
        Assert.Equal(RunReasonCodes.EngineError, ending.Error!.ReasonCode);
        Assert.Equal(RunOrchestration.StorageOutageWaits.Length + 1, run.AgentInputs.Count);
    }

    [Fact]
    public async Task ACancelWhileAStepWaitsForStorage_EndsTheWait()
    {
        var run = new FakeRun(AgentDecision.Finish("{}"));
        run.AgentFailuresFirst.Enqueue(StorageOut(wrapped: false));
        var orchestration = run.Start();
        await Eventually(() => run.TimersCreated == 1);

        run.Cancel.SetResult(new CancelEvent(DateTimeOffset.UtcNow));

        Assert.Equal("cancelled", await orchestration.WaitAsync(Wait));
        Assert.True(run.TimerToken.IsCancellationRequested);
        Assert.Single(run.AgentInputs);
    }

    [Fact]
    public async Task AnAgentFailure_ThatIsNotStorage_IsNotWaitedOut()
    {
        var run = new FakeRun { AgentFailure = Failure(nameof(RunActivities.InvokeAgent), "connection refused by the worker") };

        Assert.Equal(RunStatus.Failed, await run.Start().WaitAsync(Wait));
        Assert.Equal(RunReasonCodes.AgentError, run.Writes[^1].Ending!.Error!.ReasonCode);
        Assert.Equal(0, run.TimersCreated);
    }

    [Fact]
    public async Task AWriteThatKeepsFailing_EndsTheRunWithEngineError_InANewWrite()
    {
        var run = new FakeRun(AgentDecision.Work("draft", "drafted"), AgentDecision.Finish("{}")) { FailingWrite = 2 };

        Assert.Equal("engine_error", await run.Start().WaitAsync(Wait));
        var last = run.Writes[^1];
        Assert.Equal((RunWriteKind.Complete, 3), (last.Kind, last.Index));
        Assert.Equal(RunReasonCodes.EngineError, last.Ending!.Error!.ReasonCode);
        Assert.Contains("table is down", last.Ending.Error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WhenEvenTheEngineErrorCannotBeWritten_TheOrchestrationEnds_ForTheRepairer()
    {
        var run = new FakeRun(AgentDecision.Work("draft", "drafted")) { FailingWrite = 2, FailEveryWriteFrom = 2 };

        Assert.Equal("engine_error_unwritten", await run.Start().WaitAsync(Wait));
    }

    private static SignalEvent Signal(string action, string? payload = null) => new(RequestId, action, payload, DateTimeOffset.UtcNow);

    /// <summary>
    /// InvokeAgent's failure when storage was out: reported with its type, or (<paramref name="wrapped"/>) as a host that wraps
    /// it reports it, with another type and the message inside its own.
    /// </summary>
    private static TaskFailedException StorageOut(bool wrapped)
    {
        var message = $"{StepStorageUnavailableException.Marker} Step 0 of run run_test could not reach storage.";
        var details = wrapped
            ? new TaskFailureDetails("Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException", "Result: Failure Exception: " + message, null, null, null)
            : new TaskFailureDetails(typeof(StepStorageUnavailableException).FullName!, message, null, null, null);
        return new TaskFailedException(nameof(RunActivities.InvokeAgent), 1, details);
    }

    private static TaskFailedException Failure(string name, string message) =>
        new(name, 1, new TaskFailureDetails("Boom", message, null, null, null));

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
        private readonly Channel<TaskCompletionSource<SignalEvent>> _signals = Channel.CreateUnbounded<TaskCompletionSource<SignalEvent>>();
        private TaskCompletionSource _timer = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public FakeRun(params AgentDecision[] decisions)
        {
            _decisions = new Queue<AgentDecision>(decisions);
            _context.SetupGet(c => c.CurrentUtcDateTime).Returns(Now);
            _context.SetupGet(c => c.InstanceId).Returns("run_test");
            _context.SetupGet(c => c.IsReplaying).Returns(false);
            _context.Protected().SetupGet<ILoggerFactory>("LoggerFactory").Returns(NullLoggerFactory.Instance);
            _context.Setup(c => c.NewGuid()).Returns(RequestGuid);
            _context.Setup(c => c.WaitForExternalEvent<CancelEvent>(RunEventNames.Cancel, It.IsAny<CancellationToken>())).Returns(Cancel.Task);
            _context.Setup(c => c.WaitForExternalEvent<SignalEvent>(RunEventNames.Signal, It.IsAny<CancellationToken>())).Returns(() =>
            {
                var signal = new TaskCompletionSource<SignalEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                _signals.Writer.TryWrite(signal);
                return signal.Task;
            });
            _context.Setup(c => c.CreateTimer(It.IsAny<DateTime>(), It.IsAny<CancellationToken>())).Returns((DateTime fireAt, CancellationToken token) =>
            {
                var timer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _timer = timer;
                TimersCreated++;
                TimerFireAt = fireAt;
                TimerToken = token;
                token.Register(() => timer.TrySetCanceled());
                TimerCreated.TrySetResult();
                return timer.Task;
            });
            _context.Setup(c => c.CallActivityAsync<WriteOutcome>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName name, object? input, TaskOptions? _) =>
                {
                    Activities.Add(name.Name);
                    var write = ((WriteRunInput)input!).Write;
                    Writes.Add(write);
                    if (write.Index == FailingWrite || (FailEveryWriteFrom is { } from && write.Index >= from))
                    {
                        return Task.FromException<WriteOutcome>(Failure(name.Name, "table is down"));
                    }

                    return Task.FromResult(write.Index >= EndedAtWrite ? WriteOutcome.Ended : WriteOutcome.Applied);
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

                    if (AgentFailuresFirst.TryDequeue(out var failure))
                    {
                        return Task.FromException<AgentDecision>(failure);
                    }

                    // A plan that runs out keeps waiting rather than finishing, so tests can watch a run mid-way.
                    return _decisions.Count > 0 ? Task.FromResult(_decisions.Dequeue()) : new TaskCompletionSource<AgentDecision>().Task;
                });
            _context.Setup(c => c.WaitForExternalEvent<DeadlineMovedEvent>(RunEventNames.DeadlineMoved, It.IsAny<CancellationToken>()))
                .Returns(() =>
                {
                    MovedWaiters++;
                    return new TaskCompletionSource<DeadlineMovedEvent>().Task;
                });
            _context.Setup(c => c.CallActivityAsync<ExpireOutcome>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName name, object? _, TaskOptions? _) =>
                {
                    Activities.Add(name.Name);
                    return Task.FromResult(Expiry ?? throw new InvalidOperationException("No expiry outcome set."));
                });
        }

        public TaskCompletionSource<CancelEvent> Cancel { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The orchestration's next signal waiter, once it has asked for one (it sets its timer first).</summary>
        public async Task<TaskCompletionSource<SignalEvent>> NextSignal() => await _signals.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        public TaskCompletionSource TimerCreated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken TimerToken { get; private set; }

        public DateTime TimerFireAt { get; private set; }

        public int TimersCreated { get; private set; }

        public int MovedWaiters { get; private set; }

        public List<string> Activities { get; } = [];

        public List<RunWrite> Writes { get; } = [];

        public List<AgentStepInput> AgentInputs { get; } = [];

        public ExpireOutcome? Expiry { get; set; }

        public Exception? AgentFailure { get; set; }

        /// <summary>How the agent's steps fail, one per call, before they decide as planned.</summary>
        public Queue<Exception> AgentFailuresFirst { get; } = new();

        /// <summary>Writes from this index on are refused because the run ended.</summary>
        public int EndedAtWrite { get; set; } = int.MaxValue;

        /// <summary>This write fails past its retries.</summary>
        public int FailingWrite { get; set; } = -1;

        public int? FailEveryWriteFrom { get; set; }

        public void FireTimer() => _timer.TrySetResult();

        public Task<string> Start() => Task.Run(() => RunOrchestration.RunAsync(
            _context.Object, new RunOrchestrationInput("tenant", "run_test", """{"goal":"g"}""", TimeoutSeconds)));
    }
}
