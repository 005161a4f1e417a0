using System.Text;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Streaming;
using AgentRuns.Functions.Tests.Support;
using Azure.Core;
using Azure.Core.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// A stream on the host that writes its run gets the committed events from the writer, not from storage; events written
/// by another instance still come from storage, in order, without a hole.
/// </summary>
public sealed class StreamHandoffTests
{
    /// <summary>Polls so slow that within a test only a hand-off (or a hole in it) can deliver an event.</summary>
    private static readonly StreamOptions NoPolling = new() { MaxDurationSeconds = 120, HeartbeatSeconds = 300, MinPollMilliseconds = 60_000, MaxPollMilliseconds = 60_000 };

    [Fact]
    public async Task AStreamBesideItsRunsWriter_ReadsStorageOnlyWhenItOpens_AndGetsTheSameFramesAsFromStorage()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await StorageTests.NewRunAsync(host);
        var notifier = new RunEventNotifier();
        var writer = Store(host.Tables, notifier);
        var reads = new CountQueries();
        var stream = Stream(host.TablesWith(reads), notifier, NoPolling);
        var body = new Frames();

        var streaming = WriteAsync(stream, body, tenant, runId);
        await body.WaitForAsync("id: 1\n"); // open, and the created event read from storage
        await writer.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));
        for (var i = 2; i <= 6; i++)
        {
            var index = i;
            await writer.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(index, RunWriteKind.Progress, Step: index, Tool: "t", Summary: "<é & 日本>"), now));
        }

        await writer.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(
            r, new RunWrite(7, RunWriteKind.Complete, Ending: new RunEnding(RunStatus.Succeeded, OutputJson: """{"text":"done <ok> é"}""")), now));

        Assert.Equal(StreamEnd.Terminal, await streaming.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(1, reads.Count);
        var fromStorage = new Frames();
        await WriteAsync(Stream(host.Runs, new RunEventNotifier(), NoPolling), fromStorage, tenant, runId).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(fromStorage.Text, body.Text);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), SseFrames.Parse(body.Text).Select(f => f.Data.GetProperty("seq").GetInt64()));
        Assert.Equal(0, notifier.OpenFeeds);
    }

    [Fact]
    public async Task AnEventWrittenElsewhere_BeforeOneWrittenHere_IsReadFromStorage_InOrder()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await StorageTests.NewRunAsync(host);
        var notifier = new RunEventNotifier();
        var here = Store(host.Tables, notifier);
        var elsewhere = host.Runs; // the host's store has a notifier of its own: another instance, as far as this stream knows
        var reads = new CountQueries();
        var body = new Frames();

        var streaming = WriteAsync(Stream(host.TablesWith(reads), notifier, NoPolling), body, tenant, runId);
        await body.WaitForAsync("id: 1\n");
        await elsewhere.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));
        await here.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(2, RunWriteKind.Progress, Step: 1, Tool: "t", Summary: "s"), now));

        await body.WaitForAsync("id: 3\n"); // seq 2 is not in the feed: the stream reads it rather than wait for its timer
        Assert.Equal(["1", "2", "3"], SseFrames.Parse(body.Text).Select(f => f.Id));
        Assert.Equal(2, reads.Count);

        await here.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(3, RunWriteKind.Complete, Ending: new RunEnding(RunStatus.Succeeded, OutputJson: "{}")), now));
        Assert.Equal(StreamEnd.Terminal, await streaming.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(["1", "2", "3", "4"], SseFrames.Parse(body.Text).Select(f => f.Id));
        Assert.Equal(2, reads.Count);
    }

    [Fact]
    public async Task AnEventCommittedHereWhoseResponseWasLost_ReachesTheStreamAtOnce_NotAtItsNextPoll()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await StorageTests.NewRunAsync(host);
        var notifier = new RunEventNotifier();
        var loss = new LoseResponse(host.TablePrefix + "Runs");
        var here = Store(host.TablesWith(loss), notifier);
        var body = new Frames();

        var streaming = WriteAsync(Stream(host.Tables, notifier, NoPolling), body, tenant, runId);
        await body.WaitForAsync("id: 1\n");
        loss.LoseNext(HttpMethod: "POST");
        await here.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));
        Assert.Equal(1, loss.Lost); // committed, never handed over: the retry found it done on a fresh read of the record

        await body.WaitForAsync("id: 2\n");
        await here.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(2, RunWriteKind.Complete, Ending: new RunEnding(RunStatus.Succeeded, OutputJson: "{}")), now));
        Assert.Equal(StreamEnd.Terminal, await streaming.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(["1", "2", "3"], SseFrames.Parse(body.Text).Select(f => f.Id));
    }

    [Fact]
    public async Task WritersHereAndElsewhere_Interleaved_EveryEventIsDeliveredOnceInOrder()
    {
        var host = await RunsTestHost.GetAsync();
        var (tenant, runId) = await StorageTests.NewRunAsync(host);
        var notifier = new RunEventNotifier();
        var here = Store(host.Tables, notifier);
        var elsewhere = host.Runs;
        var polling = new StreamOptions { MaxDurationSeconds = 120, HeartbeatSeconds = 300, MinPollMilliseconds = 50, MaxPollMilliseconds = 300 };
        var body = new Frames();

        var streaming = WriteAsync(Stream(host.Tables, notifier, polling), body, tenant, runId);
        await body.WaitForAsync("id: 1\n");
        await here.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(1, RunWriteKind.Start), now));
        await body.WaitForAsync("id: 2\n"); // handed over: the poll is now at its slow end
        for (var i = 2; i <= 7; i++)
        {
            var index = i;
            var writer = i % 3 == 0 ? here : elsewhere;
            await writer.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(index, RunWriteKind.Progress, Step: index, Tool: "t", Summary: "s"), now));
        }

        await elsewhere.ApplyAsync(tenant, runId, (r, now) => RunTransitions.Apply(r, new RunWrite(8, RunWriteKind.Complete, Ending: new RunEnding(RunStatus.Succeeded, OutputJson: "{}")), now));

        Assert.Equal(StreamEnd.Terminal, await streaming.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(Enumerable.Range(1, 9).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), SseFrames.Parse(body.Text).Select(f => f.Id));
    }

    private static RunStore Store(RunTables tables, RunEventNotifier notifier) =>
        new(tables, new OpenRunIndex(tables), notifier, new NoEventOutbox(), Options.Create(new RepairOptions()), TimeProvider.System, NullLogger<RunStore>.Instance);

    /// <summary>A stream on its own store over <paramref name="tables"/>, fed by <paramref name="notifier"/> (this "process").</summary>
    private static RunEventStream Stream(RunTables tables, RunEventNotifier notifier, StreamOptions options) =>
        Stream(Store(tables, notifier), notifier, options);

    private static RunEventStream Stream(RunStore store, RunEventNotifier notifier, StreamOptions options) =>
        new(store, notifier, Options.Create(options), TimeProvider.System, NullLogger<RunEventStream>.Instance);

    private static Task<StreamEnd> WriteAsync(RunEventStream stream, Frames body, string tenant, string runId)
    {
        var context = new DefaultHttpContext();
        context.Response.Body = body;
        return stream.WriteAsync(context.Response, tenant, runId, 0, CancellationToken.None);
    }

    /// <summary>Counts the queries (event reads) sent to the Runs table.</summary>
    private sealed class CountQueries : HttpPipelinePolicy
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

        public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (message.Request.Method == RequestMethod.Get && message.Request.Uri.ToString().Contains("$filter", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _count);
            }

            return ProcessNextAsync(message, pipeline);
        }
    }

    /// <summary>A response body that a test can watch while the stream writes it.</summary>
    private sealed class Frames : Stream
    {
        private readonly MemoryStream _bytes = new();
        private readonly Lock _gate = new();

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return Encoding.UTF8.GetString(_bytes.ToArray());
                }
            }
        }

        public Task<string> WaitForAsync(string text) =>
            Eventually.GetAsync(() => Task.FromResult(Text), t => t.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(10), $"the stream to write '{text.Trim()}'");

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (_gate)
            {
                _bytes.Write(buffer, offset, count);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (_gate)
            {
                _bytes.Write(buffer.Span);
            }

            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
